/**
 * `plateflow run --output-format ome-zarr[@0.4|@0.5]`: disk steps write one OME-Zarr plate each,
 * with the same pixels and measurements as the TIFF run, complete plate metadata under parallel
 * tasks, resume like TIFF steps, and an output folder that reads back as an (OME-Zarr) plate.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { openOmeZarrPlate } from '../src/ome-zarr/plate-reader.js';
import { planeReader } from '../src/ome-zarr/source-planes.js';
import { readMetadata } from '../src/storage/metadata.js';
import { arrayHashes } from './ome-zarr-hashes.js';
import { REPO, STANDARD, cli, lastJsonLine, tempDir } from './helpers.js';

const STEP = '1_max_project_z';
let dir: string;
let plate: string;
let tiffOut: string;
let tiffJson: Record<string, unknown>;

/** Every plane of a discovered plate, keyed by its components, with its pixels. */
async function planes(root: string): Promise<{ format: string; components: unknown; byKey: Map<string, { dtype: string; data: number[] }> }> {
  clearComponentCache();
  const index = await discoverPlate(root);
  const reader = planeReader(index);
  const byKey = new Map<string, { dtype: string; data: number[] }>();
  try {
    for (const record of index.images) {
      const stack = await reader.read(record);
      const key = JSON.stringify(Object.entries(record.components).sort(([a], [b]) => a.localeCompare(b)));
      byKey.set(key, { dtype: stack.dtype, data: [...stack.data] });
    }
  } finally {
    await reader.close();
  }
  return { format: index.format, components: index.components, byKey };
}

/** Every file under `root` → its bytes, as base64 (for byte-for-byte comparisons). */
async function files(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.set(path.relative(root, full), (await readFile(full)).toString('base64'));
    }
  };
  await walk(root);
  return out;
}

async function pipelineFile(name: string, body: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(body));
  return file;
}

interface ResultsDoc {
  tasks: Record<string, { status: string; resumed?: string; outputs: string[] }>;
}

async function results(out: string): Promise<ResultsDoc> {
  return JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as ResultsDoc;
}

beforeAll(async () => {
  dir = await tempDir('plateflow-outfmt-');
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '4', '--sites', '2', '--channels', '2', '--z', '3', '--size', '64', '--seed', '4']).code).toBe(0);
  tiffOut = path.join(dir, 'out-tiff');
  const r = cli(['run', plate, '-p', STANDARD, '-o', tiffOut, '--json']);
  expect(r.code, r.stderr).toBe(0);
  tiffJson = lastJsonLine(r.stdout);
});

describe.each([
  ['ome-zarr', '0.5', 3],
  ['ome-zarr@0.4', '0.4', 2],
] as const)('--output-format %s', (format, ngff, zarrVersion) => {
  it('writes an OME-Zarr plate whose pixels and measurements equal the TIFF run; the output folder reads back as an OME-Zarr plate', async () => {
    const out = path.join(dir, `out-${ngff}`);
    const r = cli(['run', plate, '-p', STANDARD, '-o', out, '--output-format', format, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = lastJsonLine(r.stdout);
    expect(json.measurements).toEqual(tiffJson.measurements);
    expect(Object.keys(json.measurements as object).length).toBeGreaterThan(0);

    const zarr = await openOmeZarrPlate(path.join(out, `${STEP}.zarr`));
    expect(zarr.ngffVersion).toBe(ngff);
    expect(zarr.zarrVersion).toBe(zarrVersion);
    expect(zarr.name).toBe('plate');
    expect(zarr.positions.map((p) => `${p.well}/${p.field}`)).toEqual(['A01/1', 'A01/2', 'A02/1', 'A02/2', 'A03/1', 'A03/2', 'A04/1', 'A04/2']);
    for (const p of zarr.positions) {
      expect(p.shape).toEqual([1, 2, 1, 64, 64]); // t, c (two channels), z (projected), y, x
      expect(p.channelLabels).toEqual(['1', '2']);
      expect(p.plateflow).toMatchObject({ well: p.well, site: p.field, channels: ['1', '2'], z: ['1'], timepoints: ['1'], source: 'ImageXpress' });
    }
    const meta = await readMetadata(out);
    expect(Object.keys(meta!.subdirectories)).toEqual([`${STEP}.zarr`]);
    expect(meta!.subdirectories[`${STEP}.zarr`]).toMatchObject({ backend: 'zarr', handler: 'OME-Zarr', main: true, sourceFormat: 'ImageXpress' });
    expect(Object.keys(meta!.subdirectories[`${STEP}.zarr`]!.files)).toHaveLength(16);
    const tasks = (await results(out)).tasks;
    expect(tasks['A01']!.outputs).toEqual([`${STEP}.zarr/A/1/1`, `${STEP}.zarr/A/1/2`]);

    // Read back: the output folder (through plateflow_metadata.json) and the .zarr plate itself.
    const fromTiff = await planes(tiffOut);
    const fromZarr = await planes(out);
    expect(fromTiff.format).toBe('plateflow');
    expect(fromZarr.format).toBe('OME-Zarr');
    expect(fromZarr.components).toEqual(fromTiff.components);
    expect(fromZarr.byKey.size).toBe(16);
    expect([...fromZarr.byKey.keys()].sort()).toEqual([...fromTiff.byKey.keys()].sort());
    for (const [key, plane] of fromTiff.byKey) expect(fromZarr.byKey.get(key), key).toEqual(plane);
    const direct = await planes(path.join(out, `${STEP}.zarr`));
    expect(direct.byKey).toEqual(fromZarr.byKey);

    const inspect = cli(['inspect', out, '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(lastJsonLine(inspect.stdout)).toMatchObject({ format: 'OME-Zarr', images: 16, components: fromTiff.components });
  });
});

const PYTHON = '/usr/bin/python3';
const INTEROP = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'interop.py');
const pythonCan = (modules: string) => spawnSync(PYTHON, ['-c', `import ${modules}`]).status === 0;


describe('the pipeline output read by Python, without plateflow code', () => {
  const interop = (cmd: string, plate: string) => {
    const r = spawnSync(PYTHON, [INTEROP, cmd, plate], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
  };
  it.skipIf(!pythonCan('numpy'))('NGFF 0.5: a json+gzip+numpy zarr v3 decoder gets the same arrays and valid attributes', async () => {
    const plate = path.join(dir, 'out-0.5', `${STEP}.zarr`);
    expect(interop('read-v3', plate)).toEqual(await arrayHashes(plate));
  });
  it.skipIf(!pythonCan('zarr, numpy'))('NGFF 0.4: zarr-python 2 gets the same arrays and valid attributes', async () => {
    const plate = path.join(dir, 'out-0.4', `${STEP}.zarr`);
    expect(interop('read-v2', plate)).toEqual(await arrayHashes(plate));
  });
});

it('the OME-Zarr output converts (convert) and runs again as an input plate', async () => {
  const out = path.join(dir, 'out-chain');
  expect(cli(['run', plate, '-p', STANDARD, '-o', out, '--output-format', 'ome-zarr', '--quiet']).code).toBe(0);
  const converted = path.join(dir, 'chain-converted.zarr');
  const c = cli(['convert', out, converted, '--ngff', '0.4', '--quiet']);
  expect(c.code, c.stderr).toBe(0);
  const fromTiff = await planes(tiffOut);
  const fromConverted = await planes(converted);
  expect([...fromConverted.byKey.keys()].sort()).toEqual([...fromTiff.byKey.keys()].sort());
  for (const [key, plane] of fromTiff.byKey) expect(fromConverted.byKey.get(key), key).toEqual(plane);
  // A pipeline over the OME-Zarr output reads its planes through the zarr backend.
  const project = await pipelineFile('reproject.json', { steps: [{ name: 'again', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] });
  const again = path.join(dir, 'out-chain-again');
  const r = cli(['run', out, '-p', project, '-o', again, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const fromAgain = await planes(again);
  for (const [key, plane] of fromTiff.byKey) expect(fromAgain.byKey.get(key), key).toEqual(plane);
});

it('parallel tasks (threads, 2 workers, 6 wells) keep every well in the plate metadata, byte for byte as a serial run', async () => {
  const six = path.join(dir, 'six');
  expect(cli(['synth', six, '--wells', '6', '--sites', '2', '--channels', '1', '--z', '2', '--size', '48']).code).toBe(0);
  const serial = path.join(dir, 'six-serial');
  const threads = path.join(dir, 'six-threads');
  expect(cli(['run', six, '-p', STANDARD, '-o', serial, '--output-format', 'ome-zarr', '--executor', 'serial', '--quiet']).code).toBe(0);
  const r = cli(['run', six, '-p', STANDARD, '-o', threads, '--output-format', 'ome-zarr', '--executor', 'threads', '--workers', '2', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const zarr = await openOmeZarrPlate(path.join(threads, `${STEP}.zarr`));
  expect([...new Set(zarr.positions.map((p) => p.well))]).toEqual(['A01', 'A02', 'A03', 'A04', 'A05', 'A06']);
  expect(zarr.positions).toHaveLength(12);
  const a = await files(path.join(serial, `${STEP}.zarr`));
  const b = await files(path.join(threads, `${STEP}.zarr`));
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [file, bytes] of a) expect(b.get(file), file).toBe(bytes);
});

describe('resume', () => {
  const twoDiskSteps = (sigma: number, minSize = 20) => ({
    steps: [
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
      { name: 'blur', func: { '#1': [['gaussian_blur', { sigma }]] }, backend: 'disk' },
      { name: 'count', func: { '#1': ['otsu_threshold', 'label', ['count_objects', { min_size: minSize }]] }, backend: 'memory' },
    ],
  });

  it('a second run reuses every task; a changed later step reloads the earlier zarr step and computes what a fresh run computes', async () => {
    const out = path.join(dir, 'resume');
    const p1 = await pipelineFile('resume-1.json', twoDiskSteps(2));
    const first = cli(['run', plate, '-p', p1, '-o', out, '--output-format', 'ome-zarr@0.4', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const before = await files(out);
    const second = cli(['run', plate, '-p', p1, '-o', out, '--output-format', 'ome-zarr@0.4', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['task', 'task', 'task', 'task']);
    expect(lastJsonLine(second.stdout).measurements).toEqual(lastJsonLine(first.stdout).measurements);
    for (const [file, bytes] of before) if (file.includes('.zarr')) expect((await files(out)).get(file), file).toBe(bytes);


    const p2 = await pipelineFile('resume-2.json', twoDiskSteps(3));
    const changed = cli(['run', plate, '-p', p2, '-o', out, '--output-format', 'ome-zarr@0.4', '--json']);
    expect(changed.code, changed.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['project', 'project', 'project', 'project']);
    const fresh = cli(['run', plate, '-p', p2, '-o', path.join(dir, 'resume-fresh'), '--output-format', 'ome-zarr@0.4', '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(lastJsonLine(changed.stdout).measurements).toEqual(lastJsonLine(fresh.stdout).measurements);
    const resumedBlur = await files(path.join(out, '2_blur.zarr'));
    const freshBlur = await files(path.join(dir, 'resume-fresh', '2_blur.zarr'));
    expect([...resumedBlur.keys()].sort()).toEqual([...freshBlur.keys()].sort());
    for (const [file, bytes] of freshBlur) expect(resumedBlur.get(file), file).toBe(bytes);

    // The blur step's positions mix float32 (channel 1, blurred) and uint16 (channel 2, passed
    // through): stored as float32; the checkpoint remembers channel 2's dtype, so a task resumed
    // from this step gets uint16 back, as an uninterrupted run has it in memory.
    const marker = JSON.parse(await readFile(path.join(out, '.plateflow', 'steps', '2_blur', 'A01.json'), 'utf8')) as { planes: { components: { channel: string }; dtype?: string }[] };
    expect(marker.planes.map((p) => [p.components.channel, p.dtype])).toEqual([['1', undefined], ['2', 'uint16'], ['1', undefined], ['2', 'uint16']]);
    const p3 = await pipelineFile('resume-3.json', twoDiskSteps(3, 10));
    const counted = cli(['run', plate, '-p', p3, '-o', out, '--output-format', 'ome-zarr@0.4', '--json']);
    expect(counted.code, counted.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['blur', 'blur', 'blur', 'blur']);
    const freshCount = cli(['run', plate, '-p', p3, '-o', path.join(dir, 'resume-fresh-3'), '--json']);
    expect(lastJsonLine(counted.stdout).measurements).toEqual(lastJsonLine(freshCount.stdout).measurements);

    // Checkpoints of the zarr run are not taken for a TIFF run of the same pipeline into the same folder.
    const tiff = cli(['run', plate, '-p', p3, '-o', out, '--json']);
    expect(tiff.code, tiff.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

it('a step whose planes leave gaps in the T×C×Z grid reads back with exactly the planes it wrote', async () => {
  // Channel 1 is projected over z (one plane per site, no z); channel 2 passes through (three z planes).
  const p = await pipelineFile('gaps.json', { steps: [{ name: 'mixed', func: { '#1': 'max_projection' }, variableComponents: ['z'], groupBy: 'channel', backend: 'disk' }] });
  const tiff = path.join(dir, 'gaps-tiff');
  const zarr = path.join(dir, 'gaps-zarr');
  expect(cli(['run', plate, '-p', p, '-o', tiff, '--quiet']).code).toBe(0);
  const r = cli(['run', plate, '-p', p, '-o', zarr, '--output-format', 'ome-zarr', '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  const position = (await openOmeZarrPlate(path.join(zarr, '1_mixed.zarr'))).positions[0]!;
  expect(position.shape).toEqual([1, 2, 3, 64, 64]);
  expect(position.plateflow?.absent).toEqual([1, 2]); // channel 1 has only z 1
  const a = await planes(tiff);
  const b = await planes(zarr);
  expect(b.byKey.size).toBe(4 * 2 * (1 + 3));
  expect([...b.byKey.keys()].sort()).toEqual([...a.byKey.keys()].sort());
  for (const [key, plane] of a.byKey) expect(b.byKey.get(key), key).toEqual(plane);
});

describe('bad input', () => {
  it('--output-format zarr7 exits 2 and lists the choices', () => {
    const r = cli(['run', plate, '-p', STANDARD, '-o', path.join(dir, 'bad'), '--output-format', 'zarr7']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--output-format must be one of tiff, ome-zarr, ome-zarr@0\.4, ome-zarr@0\.5 .*got "zarr7"/);
  });

  it('an axis that splits positions between tasks is refused before anything runs, naming the option and the axis', async () => {
    const out = path.join(dir, 'bad-axis');
    const r = cli(['run', plate, '-p', STANDARD, '-o', out, '--output-format', 'ome-zarr', '--axis', 'timepoint']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_CONFIG_INVALID\] --output-format ome-zarr@0\.5 .*the axis is timepoint/);
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
