/**
 * processPosition against the compiled build (dist/): worker threads and child processes load
 * dist/ome-zarr/position-{worker,child}.js, so `npm test` builds first.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType, PixelArray } from '../src/image.js';
import type * as OmeZarr from '../src/ome-zarr/index.js';
import { availableCpus } from '../src/execution/resources/cpus.js';
import { REPO, tempDir } from './helpers.js';

const DIST = path.join(REPO, 'dist', 'ome-zarr', 'index.js');
const built = existsSync(DIST);
if (!built) console.warn(`skipping processPosition tests: ${DIST} is missing (run npm run build)`);
const oz = (built ? await import(DIST) : undefined) as typeof OmeZarr;
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'multiply.mjs');
const root = await tempDir('plateflow-zarr-proc-');
let plates = 0;

interface Shape {
  t: number;
  c: number;
  z: number;
  y: number;
  x: number;
}

/** Input position filled with deterministic non-zero values, and an empty output position of the same shape. */
async function positions(shape: Shape, dtype: DType, fill: (t: number, c: number, z: number, i: number) => number = (t, c, z, i) => 1 + ((t * 7 + c * 13 + z * 31 + i * 17) % 3000)) {
  const dir = path.join(root, `p${plates++}.zarr`);
  const writer = await oz.OmeZarrPlateWriter.create(dir, [
    { well: 'A01', field: '0', shape, dtype },
    { well: 'A01', field: '1', shape, dtype },
  ]);
  const input = new Map<string, PixelArray>();
  for (let t = 0; t < shape.t; t++) {
    for (let c = 0; c < shape.c; c++) {
      for (let z = 0; z < shape.z; z++) {
        const data = dtype === 'float32' ? new Float32Array(shape.y * shape.x) : new Uint16Array(shape.y * shape.x);
        for (let i = 0; i < data.length; i++) data[i] = fill(t, c, z, i);
        await writer.writePlane('A01', '0', { t, c, z }, data);
        input.set(`${t}/${c}/${z}`, data);
      }
    }
  }
  return { input: path.join(dir, 'A/1/0'), output: path.join(dir, 'A/1/1'), values: input };
}

async function readOut(output: string, t: number, c: number, z: number): Promise<PixelArray> {
  const { ZarrArray } = (await import(path.join(REPO, 'dist', 'storage', 'zarr-array.js'))) as typeof import('../src/storage/zarr-array.js');
  return (await ZarrArray.open(path.join(output, '0'))).readPlane([t, c, z]);
}

const subset = (n: number, minLength = 1) => fc.subarray(Array.from({ length: n }, (_, i) => i), { minLength });

describe.skipIf(!built)('processPosition: out = in × k', () => {
  it.each([
    [1, 'threads'],
    [2, 'threads'],
    [1, 'processes'],
    [2, 'processes'],
  ] as const)('numWorkers %i, %s: every selected unit is multiplied, nothing else is written', async (numWorkers, executor) => {
    await fc.assert(
      fc.asyncProperty(
        // With 2 workers, at least 2 timepoints are selected, so the pool really runs units side by side.
        fc.record({ t: fc.integer({ min: numWorkers, max: 3 }), c: fc.integer({ min: 1, max: 3 }), z: fc.integer({ min: 1, max: 3 }), y: fc.integer({ min: 1, max: 9 }), x: fc.integer({ min: 1, max: 9 }) }).chain((shape) =>
          fc.record({
            shape: fc.constant(shape),
            times: subset(shape.t, numWorkers),
            channels: subset(shape.c),
            shift: fc.integer({ min: 0, max: shape.c - 1 }),
            k: fc.integer({ min: 1, max: 20 }),
            dtype: fc.constantFrom<DType>('uint16', 'float32'),
          }),
        ),
        async ({ shape, times, channels, shift, k, dtype }) => {
          const { input, output, values } = await positions(shape, dtype);
          const outTimes = [...times].reverse();
          const outChannels = channels.map((c) => (c + shift) % shape.c);
          const result = await oz.processPosition({ module: FIXTURE }, input, output, {
            inputChannelIndices: channels,
            outputChannelIndices: outChannels,
            inputTimeIndices: times,
            outputTimeIndices: outTimes,
            numWorkers,
            executor,
            kwargs: { k },
          });
          expect(result.processed).toBe(times.length * channels.length);
          expect(result.executor).toBe(numWorkers > 1 ? executor : 'serial');
          expect(result.workers).toBe(Math.min(numWorkers, availableCpus()));
          for (let ti = 0; ti < shape.t; ti++) {
            for (let c = 0; c < shape.c; c++) {
              for (let z = 0; z < shape.z; z++) {
                const got = await readOut(output, ti, c, z);
                const tIn = times[outTimes.indexOf(ti)];
                const cIn = channels[outChannels.indexOf(c)];
                const expected = tIn === undefined || cIn === undefined ? new Array(got.length).fill(0) : [...values.get(`${tIn}/${cIn}/${z}`)!].map((v) => v * k);
                expect([...got]).toEqual(expected);
              }
            }
          }
        },
      ),
      { numRuns: numWorkers === 1 ? 6 : 4 },
    );
  });
});

describe.skipIf(!built)('processPosition semantics', () => {
  it('skips and reports volumes with an all-zero or all-NaN channel', async () => {
    const shape = { t: 3, c: 2, z: 2, y: 3, x: 3 };
    const zeroes = await positions(shape, 'uint16', (t, c, z, i) => (t === 1 && c === 1 ? 0 : 5 + i));
    const r = await oz.processPosition({ module: FIXTURE }, zeroes.input, zeroes.output, { inputChannelIndices: [[0, 1]], kwargs: { k: 2 } });
    expect(r.units.map((u) => [u.unit.t, u.status, u.reason])).toEqual([
      [0, 'done', undefined],
      [1, 'skipped-empty', 'channel index 1 is all zeros'],
      [2, 'done', undefined],
    ]);
    expect([...(await readOut(zeroes.output, 1, 0, 0))]).toEqual(new Array(9).fill(0));
    expect([...(await readOut(zeroes.output, 2, 0, 0))]).toEqual([...Array(9).keys()].map((i) => (5 + i) * 2));

    const nans = await positions(shape, 'float32', (t, c, z, i) => (t === 2 && c === 0 ? Number.NaN : 1 + i));
    const n = await oz.processPosition({ module: FIXTURE }, nans.input, nans.output, { kwargs: { k: 2 }, numWorkers: 2 });
    expect(n.skippedEmpty).toBe(1);
    expect(n.units.find((u) => u.status === 'skipped-empty')).toMatchObject({ unit: { t: 2, channels: [0] }, reason: 'channel index 0 is all NaN' });
  });

  it('passes kwargs, and only kwargs, to the function', async () => {
    const p = await positions({ t: 2, c: 1, z: 1, y: 2, x: 2 }, 'uint16');
    const r = await oz.processPosition({ module: FIXTURE, export: 'echoKwargs' }, p.input, p.output, { kwargs: { k: 3 }, numWorkers: 2, executor: 'processes' });
    expect(r.processed).toBe(2);
  });

  it('never uses more workers than the CPUs the job may use (SLURM_CPUS_PER_TASK)', async () => {
    const p = await positions({ t: 4, c: 1, z: 1, y: 2, x: 2 }, 'uint16');
    const saved = process.env['SLURM_CPUS_PER_TASK'];
    process.env['SLURM_CPUS_PER_TASK'] = '1';
    try {
      const r = await oz.processPosition({ module: FIXTURE }, p.input, p.output, { kwargs: { k: 1 }, numWorkers: 64 });
      expect(r.workers).toBe(1);
    } finally {
      if (saved === undefined) delete process.env['SLURM_CPUS_PER_TASK'];
      else process.env['SLURM_CPUS_PER_TASK'] = saved;
    }
  });

  it.each(['threads', 'processes'] as const)('fails fast when a %s worker dies, instead of hanging', async (executor) => {
    const p = await positions({ t: 6, c: 1, z: 1, y: 2, x: 2 }, 'uint16');
    const started = Date.now();
    await expect(oz.processPosition({ module: FIXTURE, export: 'dieOn' }, p.input, p.output, { kwargs: { dieAt: 2 }, numWorkers: 2, executor })).rejects.toMatchObject({
      code: 'E_TASK_KILLED',
      message: expect.stringMatching(/died .* unit t=2/),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a failing function with the unit, and keeps the finished units for resume', async () => {
    const p = await positions({ t: 3, c: 1, z: 1, y: 2, x: 2 }, 'uint16');
    await expect(oz.processPosition({ module: FIXTURE, export: 'failOn' }, p.input, p.output, { kwargs: { failAt: 2 } })).rejects.toMatchObject({
      code: 'E_STEP_FAILED',
      message: expect.stringMatching(/unit t=2 .*deliberate failure at t=2/),
    });
    const again = await oz.processPosition({ module: FIXTURE, export: 'failOn' }, p.input, p.output, { kwargs: { failAt: 2 }, resume: true }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'E_STEP_FAILED' });
    const resumed = await oz.processPosition({ module: FIXTURE, export: 'failOn' }, p.input, p.output, { kwargs: { failAt: -1 }, resume: true });
    expect(resumed.alreadyDone).toBe(0); // different kwargs → different fingerprint → nothing is trusted
    expect(resumed.processed).toBe(3);
  });

  it.each([
    [1, 'threads'],
    [2, 'threads'],
    [2, 'processes'],
  ] as const)('stops on abort (numWorkers %i, %s); resume picks up after the units that finished', async (numWorkers, executor) => {
    const p = await positions({ t: 6, c: 1, z: 1, y: 2, x: 2 }, 'uint16');
    const controller = new AbortController();
    const first = await oz
      .processPosition({ module: FIXTURE, export: 'slowMultiply' }, p.input, p.output, {
        kwargs: { k: 2, ms: 30 },
        numWorkers,
        executor,
        signal: controller.signal,
        onUnit: () => controller.abort(new Error('user pressed ^C')),
      })
      .catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'E_ABORTED' });
    const resumed = await oz.processPosition({ module: FIXTURE, export: 'slowMultiply' }, p.input, p.output, { kwargs: { k: 2, ms: 30 }, resume: true });
    expect(resumed.alreadyDone).toBeGreaterThanOrEqual(1);
    expect(resumed.alreadyDone + resumed.processed).toBe(6);
    expect([...(await readOut(p.output, 5, 0, 0))]).toEqual([...p.values.get('5/0/0')!].map((v) => v * 2));
  });

  it('validates options with messages that name them', async () => {
    const p = await positions({ t: 2, c: 2, z: 1, y: 2, x: 2 }, 'uint16');
    const run = (opts: OmeZarr.ProcessPositionOptions, fn: OmeZarr.VolumeFunction | OmeZarr.FunctionRef = { module: FIXTURE }) => oz.processPosition(fn, p.input, p.output, opts);
    await expect(run({ inputChannelIndices: [2] })).rejects.toMatchObject({ code: 'E_CONFIG_INVALID', message: expect.stringMatching(/inputChannelIndices contains 2/) });
    await expect(run({ inputChannelIndices: [0, 1], outputChannelIndices: [0] })).rejects.toMatchObject({ message: expect.stringMatching(/outputChannelIndices has 1 groups/) });
    await expect(run({ inputChannelIndices: [0, 1], outputChannelIndices: [1, 1] })).rejects.toMatchObject({ message: expect.stringMatching(/two units would write/) });
    await expect(run({ inputTimeIndices: [0, 1], outputTimeIndices: [0] })).rejects.toMatchObject({ message: expect.stringMatching(/outputTimeIndices has 1/) });
    await expect(run({ numWorkers: 2 }, (v) => v)).rejects.toMatchObject({ message: expect.stringMatching(/needs the function as \{ module, export \}/) });
    const inline = await run({ kwargs: { k: 4 } }, (v, kw) => ({ ...v, data: v.data.map((x) => x * Number(kw['k'])) as PixelArray }));
    expect(inline.processed).toBe(4);
  });
});
