/**
 * How a step's output planes become OME-Zarr positions (execution/zarr-step-output.ts), what the
 * compiler refuses for `outputFormat`, and the `addPosition` options the pipeline writer relies on.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import { parseOutputFormat } from '../src/compiler/output-format.js';
import { asDType, commonDType, writeZarrStep, type StepPlaneRef } from '../src/execution/zarr-step-output.js';
import type { DType, ImageStack } from '../src/image.js';
import { allocate } from '../src/image.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { openOmeZarrPlate } from '../src/ome-zarr/plate-reader.js';
import { addPosition } from '../src/ome-zarr/plate-writer.js';
import type { PipelineDefinition } from '../src/pipeline/types.js';
import { FileManager } from '../src/storage/file-manager.js';
import { ZarrBackend } from '../src/storage/zarr-backend.js';
import { fakePlate } from './plans.js';
import { tempDir } from './helpers.js';

const dir = await tempDir('plateflow-outfmt-layout-');
const project: PipelineDefinition = { steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] };

async function zarrStep(out: string, wells = ['B3']) {
  const run = await compile(project, fakePlate(wells), { out, outputFormat: 'ome-zarr' });
  const plan = run.tasks.get(wells[0]!)!;
  return { plan, step: plan.steps[0]! };
}

function plane(dtype: DType, value: number, size = 4): ImageStack {
  const data = allocate(dtype, size * size);
  for (let i = 0; i < data.length; i++) data[i] = value + i;
  return { dtype, shape: [1, size, size], data };
}

async function store(files: FileManager, planes: readonly [Record<string, string>, ImageStack][]): Promise<StepPlaneRef[]> {
  const refs: StepPlaneRef[] = [];
  for (const [i, [components, stack]] of planes.entries()) {
    await files.save('memory', `p/${i}`, stack);
    refs.push({ components, memoryKey: `p/${i}` });
  }
  return refs;
}

describe('writeZarrStep', () => {
  it('one position per (well, site): T, C, Z from sorted values, constant extra components kept, dtypes widened exactly', async () => {
    const out = path.join(dir, 'ok');
    const { plan, step } = await zarrStep(out);
    expect(step.outputDir).toBe(path.join(out, '1_project.zarr'));
    expect(step.outputFormat).toBe('ome-zarr@0.5');
    const files = new FileManager();
    const input: [Record<string, string>, ImageStack][] = [];
    for (const t of ['2', '10']) {
      for (const channel of ['GFP', 'DAPI']) input.push([{ well: 'B3', site: '2', channel, timepoint: t, batch: 'b7' }, plane(channel === 'GFP' ? 'uint8' : 'uint16', Number(t) * 10)]);
    }
    const written = await writeZarrStep(plan, step, await store(files, input), files);
    expect(written.outputs).toEqual(['1_project.zarr/B/3/2']);
    expect(written.planes.filter((p) => p.dtype === 'uint8')).toHaveLength(2);
    expect(written.files.map((f) => f.path)).toContain('1_project.zarr/B/3/2/0/zarr.json');
    expect(written.files.every((f) => f.bytes > 0)).toBe(true);

    const zarr = await openOmeZarrPlate(step.outputDir!);
    expect(zarr.positions).toHaveLength(1);
    expect(zarr.positions[0]!.shape).toEqual([2, 2, 1, 4, 4]);
    expect(zarr.positions[0]!.dataType).toBe('uint16');
    expect(zarr.positions[0]!.plateflow).toMatchObject({ well: 'B3', site: '2', timepoints: ['2', '10'], channels: ['DAPI', 'GFP'], z: ['1'], extra: { batch: 'b7' } });

    clearComponentCache();
    const index = await discoverPlate(step.outputDir!);
    // Discovery sorts by channel, then timepoint (numerically).
    expect(index.images.map((r) => r.components)).toEqual(
      ['DAPI', 'GFP'].flatMap((channel) => ['2', '10'].map((t) => ({ well: 'B3', site: '2', channel, z: '1', timepoint: t, batch: 'b7' }))),
    );
    const zarrFiles = new ZarrBackend();
    for (const [components, stack] of input) {
      const record = index.images.find((r) => r.components['channel'] === components['channel'] && r.components['timepoint'] === components['timepoint'])!;
      const read = await zarrFiles.load(path.join(step.outputDir!, record.path), { page: record.page! });
      expect([...read.data]).toEqual([...stack.data]);
    }
    await zarrFiles.close();
    await files.close();
  });

  it.each([
    ['a component that varies inside a position', [[{ well: 'B3', site: '1', channel: '1', plane: '1' }, 'uint16'], [{ well: 'B3', site: '1', channel: '2', plane: '2' }, 'uint16']], /component "plane" varies inside position B3 site 1 \(1, 2\)/],
    ['two planes on one (t, c, z)', [[{ well: 'B3', site: '1', channel: '1' }, 'uint16'], [{ well: 'B3', site: '1', channel: '1', z: '1' }, 'uint16']], /two output planes of well B3 site 1 fall on the same/],
    ['dtypes no one dtype holds exactly', [[{ well: 'B3', site: '1', channel: '1' }, 'uint32'], [{ well: 'B3', site: '1', channel: '2' }, 'float32']], /mixes uint32 and float32 planes/],
    ['a plane without a well', [[{ site: '1', channel: '1' }, 'uint16']], /has no well/],
    ['a site that cannot name a field', [[{ well: 'B3', site: 's-1', channel: '1' }, 'uint16']], /site "s-1" of well B3 cannot name an OME-Zarr field/],
  ] as const)('refuses %s, naming it and the way out', async (_, planes, message) => {
    const { plan, step } = await zarrStep(path.join(dir, `bad-${Math.random().toString(36).slice(2)}`));
    const files = new FileManager();
    const refs = await store(files, planes.map(([c, dtype]) => [c as Record<string, string>, plane(dtype, 1)]));
    const err = await writeZarrStep(plan, step, refs, files).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_STEP_FAILED', message: expect.stringMatching(message), cause: { code: 'E_CONFIG_INVALID' } });
    expect((err as Error).message).toMatch(/--output-format tiff/);
    await files.close();
  });

  it('widens only where every value survives, and narrows back exactly', () => {
    expect(commonDType(['uint8', 'uint16'])).toBe('uint16');
    expect(commonDType(['uint16', 'float32'])).toBe('float32');
    expect(commonDType(['uint8', 'int32'])).toBe('int32');
    expect(commonDType(['uint16', 'uint32'])).toBe('uint32');
    expect(commonDType(['int32', 'uint32'])).toBeUndefined();
    expect(commonDType(['int32', 'float32'])).toBeUndefined();
    const wide = asDType(new Uint16Array([0, 65535, 1234]), 'float32');
    expect(wide).toBeInstanceOf(Float32Array);
    expect([...asDType(wide, 'uint16')]).toEqual([0, 65535, 1234]);
  });
});

describe('compile with outputFormat', () => {
  it('accepts the spellings, defaults to tiff, and refuses anything else listing the choices', async () => {
    expect(parseOutputFormat('OME-Zarr')).toBe('ome-zarr@0.5');
    expect(parseOutputFormat('ome-zarr@0.4')).toBe('ome-zarr@0.4');
    expect(() => parseOutputFormat('zarr')).toThrow(/one of tiff, ome-zarr, ome-zarr@0\.4, ome-zarr@0\.5 .*got "zarr"/);
    const tiff = await compile(project, fakePlate(['A01']), { out: '/tmp/o' });
    expect(tiff.steps[0]).toMatchObject({ outputFormat: 'tiff', outputDir: '/tmp/o/1_project' });
    const zarr = await compile(project, fakePlate(['A01']), { out: '/tmp/o', outputFormat: 'ome-zarr@0.4' });
    expect(zarr.steps[0]).toMatchObject({ outputFormat: 'ome-zarr@0.4', outputDir: '/tmp/o/1_project.zarr' });
    expect(zarr.steps[0]!.hash).not.toBe(tiff.steps[0]!.hash);
    expect(zarr.steps[0]!.hash).toHaveLength(tiff.steps[0]!.hash.length);
    await expect(compile(project, fakePlate(['A01']), { outputFormat: 'ome-zarr7' as never })).rejects.toMatchObject({ code: 'E_CONFIG_INVALID' });
  });

  it('takes well and/or site as the axis, and refuses other axes and wells that are not well ids', async () => {
    await expect(compile(project, fakePlate(['A01']), { outputFormat: 'ome-zarr', config: { axis: ['well', 'site'], variable: ['z'] } })).resolves.toBeDefined();
    await expect(compile(project, fakePlate(['A01']), { outputFormat: 'ome-zarr', config: { axis: 'site', variable: ['z'] } })).resolves.toBeDefined();
    await expect(compile(project, fakePlate(['A01']), { outputFormat: 'ome-zarr', config: { axis: ['well', 'timepoint'] } })).rejects.toMatchObject({
      code: 'E_CONFIG_INVALID',
      message: expect.stringMatching(/--output-format ome-zarr@0\.5 .*the axis is well\+timepoint \(timepoint would split a position between tasks\)/),
    });
    await expect(compile(project, fakePlate(['ctrl']), { outputFormat: 'ome-zarr' })).rejects.toMatchObject({ message: expect.stringMatching(/has well "ctrl"/) });
    await expect(compile(project, fakePlate(['B3', 'B03']), { outputFormat: 'ome-zarr' })).rejects.toMatchObject({ message: expect.stringMatching(/would both be the OME-Zarr well B03/) });
    // A pipeline with no disk step writes nothing, so any axis will do.
    await expect(compile({ steps: [{ func: 'max_projection', variableComponents: ['z'], backend: 'memory' }] }, fakePlate(['A01']), { outputFormat: 'ome-zarr', config: { axis: 'channel', groupBy: null } })).resolves.toBeDefined();
  });
});

describe("addPosition({ order: 'sorted', replace: true })", () => {
  const spec = (well: string, field: string) => ({ well, field, shape: { t: 1, c: 1, z: 1, y: 2, x: 2 }, dtype: 'uint8' as const });
  const docs = async (root: string) => Promise.all(['zarr.json', 'B/2/zarr.json', 'A/10/zarr.json'].map((f) => readFile(path.join(root, f), 'utf8')));

  it('writes the same plate and well documents whatever order positions arrive in', async () => {
    const order = [['B02', '1'], ['A10', '2'], ['A10', '1'], ['B02', '0']] as const;
    const a = path.join(dir, 'sorted-a.zarr');
    const b = path.join(dir, 'sorted-b.zarr');
    for (const [w, f] of order) await addPosition(a, spec(w, f), { ngff: '0.5', order: 'sorted', name: 'p' });
    for (const [w, f] of [...order].reverse()) await addPosition(b, spec(w, f), { ngff: '0.5', order: 'sorted', name: 'p' });
    expect(await docs(a)).toEqual(await docs(b));
    const plate = await openOmeZarrPlate(a);
    expect(plate.rows).toEqual(['A', 'B']);
    expect(plate.columns).toEqual(['2', '10']);
    expect(plate.positions.map((p) => `${p.well}/${p.field}`)).toEqual(['A10/1', 'A10/2', 'B02/0', 'B02/1']);
  });

  it('replace: true rewrites an existing position and keeps its chunks; without it the position is refused', async () => {
    const root = path.join(dir, 'replace.zarr');
    const arr = await addPosition(root, spec('A01', '0'), { ngff: '0.4' });
    await arr.writePlane([0, 0, 0], new Uint8Array([1, 2, 3, 4]));
    await expect(addPosition(root, spec('A01', '0'), { ngff: '0.4' })).rejects.toMatchObject({ message: expect.stringMatching(/exists already/) });
    const again = await addPosition(root, spec('A01', '0'), { ngff: '0.4', replace: true });
    expect([...(await again.readPlane([0, 0, 0]))]).toEqual([1, 2, 3, 4]);
    expect(again.planeChunkKeys([0, 0, 0])).toEqual(['0/0/0/0/0']);
    expect((await openOmeZarrPlate(root)).positions).toHaveLength(1);
  });
});
