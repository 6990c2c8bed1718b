// Built-ins with a tiled form (gaussian_blur) must give the same bytes whether a
// call may use one thread or several: tiling changes speed, never results. The size threshold is
// lowered through PLATEFLOW_TILE_MIN_PIXELS so small random images take the tiled path.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKernelThreads, kernelThreadCount } from '../dist/arrays/kernel-threads.js';
import { BUILTIN_FUNCTIONS } from '../dist/processing/builtins.js';
import type { DType, ImageStack } from '../src/image.js';
import type { FunctionContext, FunctionDefinition, FunctionOutput, FunctionResult } from '../src/processing/types.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

const fn = (name: string) => BUILTIN_FUNCTIONS.find((d) => d.name === name) as FunctionDefinition;
const gaussian = fn('gaussian_blur');

let previousMin: string | undefined;
beforeAll(() => {
  previousMin = process.env.PLATEFLOW_TILE_MIN_PIXELS;
  process.env.PLATEFLOW_TILE_MIN_PIXELS = '1';
});
afterAll(async () => {
  if (previousMin === undefined) delete process.env.PLATEFLOW_TILE_MIN_PIXELS;
  else process.env.PLATEFLOW_TILE_MIN_PIXELS = previousMin;
  await closeKernelThreads();
});

const CTORS = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array } as const;

/** Blobs on a gradient plus noise (so blurs and thresholds are not trivial), scaled to the dtype. */
function synth(dtype: DType, n: number, h: number, w: number, seed: number): ImageStack {
  const data = new CTORS[dtype](n * h * w);
  const scale = dtype === 'uint8' || dtype === 'int8' ? 120 : dtype.startsWith('float') ? 1 : 3000;
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const y = Math.floor(i / w) % h;
    const x = i % w;
    const blob = Math.sin(x / 2.3 + seed) * Math.cos(y / 1.9) > 0.5 ? 0.6 : 0;
    const v = (0.1 + (0.2 * x) / w + blob + (s / 2 ** 32) * 0.3) * scale;
    data[i] = dtype.startsWith('float') ? v : Math.round(v);
  }
  return { dtype, shape: [n, h, w], data } as ImageStack;
}

const ctx = (threads: number): FunctionContext => ({ components: [], threads });

function asOutput(r: FunctionResult): FunctionOutput {
  return 'stack' in r ? r : { stack: r };
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Runs `def` untiled (1 thread) and tiled (2 threads) and checks both give the same stack and measurements. */
async function expectSame(def: FunctionDefinition, stack: ImageStack, kwargs: Record<string, unknown>): Promise<void> {
  const parsed = def.kwargs.parse(kwargs);
  const one = asOutput(await def.run(stack, parsed, ctx(1)));
  const two = asOutput(await def.run(stack, parsed, ctx(2)));
  expect(two.stack.dtype).toBe(one.stack.dtype);
  expect(two.stack.shape).toEqual(one.stack.shape);
  expect(bytes(two.stack.data).equals(bytes(one.stack.data))).toBe(true);
  expect(two.measurements).toEqual(one.measurements);
}

describe('tiled built-ins equal the untiled ones byte for byte', () => {
  it('gaussian_blur over random sizes, sigmas, truncates and dtypes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.double({ min: 0.2, max: 8, noNaN: true }),
        fc.constantFrom(4, 2, 1.5),
        fc.constantFrom<DType>('uint8', 'uint16', 'int16', 'int32', 'float32', 'float64'),
        fc.integer({ min: 0, max: 1000 }),
        async (n, h, w, sigma, truncate, dtype, seed) => {
          await expectSame(gaussian, synth(dtype, n, h, w, seed), { sigma, truncate });
        },
      ),
      { numRuns: 60 },
    );
    expect(kernelThreadCount()).toBe(2); // the tiled path ran, on 2 chunk threads
  });

  it('a 1024² uint16 plane, sigma 2 and sigma 9', async () => {
    const stack = synth('uint16', 1, 1024, 1024, 5);
    for (const sigma of [2, 9]) await expectSame(gaussian, stack, { sigma });
  });

  it('fails like the untiled kernel for a sigma too wide for the image', async () => {
    const small = synth('uint8', 1, 8, 8, 1);
    for (const threads of [1, 2]) {
      await expect(Promise.resolve().then(() => gaussian.run(small, gaussian.kwargs.parse({ sigma: 1000 }), ctx(threads)))).rejects.toThrow(/E_KWARGS_INVALID|too large/);
    }
  });

  it('a bad PLATEFLOW_TILE_MIN_PIXELS is an error naming it, not a silent default', async () => {
    process.env.PLATEFLOW_TILE_MIN_PIXELS = 'lots';
    try {
      await expect(Promise.resolve().then(() => gaussian.run(synth('uint8', 1, 8, 8, 1), gaussian.kwargs.parse({ sigma: 1 }), ctx(2)))).rejects.toThrow(/PLATEFLOW_TILE_MIN_PIXELS/);
    } finally {
      process.env.PLATEFLOW_TILE_MIN_PIXELS = '1';
    }
  });
});

describe('a run whose task may use 2 threads', () => {
  const PIPELINE = {
    name: 'tiled',
    axis: 'well',
    steps: [
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
      { name: 'blur_mask', variableComponents: ['site'], groupBy: null, func: [['gaussian_blur', { sigma: 2 }], ['otsu_threshold', {}]], backend: 'disk' },
    ],
  };

  it('uses them (threads and processes executors), ends, exits, and writes what a 1-thread run writes', async () => {
    const dir = await tempDir();
    const plate = path.join(dir, 'plate');
    const synth = cli(['synth', plate, '--wells', '1', '--sites', '2', '--channels', '1', '--z', '2', '--size', '128', '--seed', '3']);
    expect(synth.code, synth.stderr).toBe(0);
    const pipeline = path.join(dir, 'pipeline.json');
    await writeFile(pipeline, JSON.stringify(PIPELINE));
    // SLURM_CPUS_PER_TASK=2 fixes the CPU budget at 2 (never above the host's count).
    const run = (name: string, workers: number, executor: string, min = '1024') =>
      cli(['run', plate, '--pipeline', pipeline, '--out', path.join(dir, name), '--json', '--workers', String(workers), '--executor', executor], { env: { PLATEFLOW_TILE_MIN_PIXELS: min, SLURM_CPUS_PER_TASK: '2' } });

    // The plumbing: a malformed threshold is only read where a kernel may tile, i.e. with 2 threads.
    expect(lastJsonLine(run('probe-1', 1, 'threads', 'x').stdout)).toMatchObject({ tasks: 1, ok: 1 });
    if (os.availableParallelism() >= 2) {
      for (const executor of ['threads', 'processes']) {
        const probe = run(`probe-${executor}`, 2, executor, 'x');
        expect(probe.code, probe.stderr).toBe(1);
        expect(await readFile(path.join(dir, `probe-${executor}`, 'results.json'), 'utf8')).toMatch(/PLATEFLOW_TILE_MIN_PIXELS/);
      }
    }

    const reference = run('one', 1, 'threads');
    expect(reference.code, reference.stderr).toBe(0);
    const files = (await readdir(path.join(dir, 'one', '2_blur_mask'))).sort();
    expect(files).toHaveLength(2);
    for (const executor of ['threads', 'processes']) {
      // spawnSync returns only once the process has exited: a chunk thread left running would hold it until the timeout.
      const tiled = run(executor, 2, executor);
      expect(tiled.code, tiled.stderr).toBe(0);
      expect(lastJsonLine(tiled.stdout).measurements).toEqual(lastJsonLine(reference.stdout).measurements);
      for (const f of files) {
        expect((await readFile(path.join(dir, executor, '2_blur_mask', f))).equals(await readFile(path.join(dir, 'one', '2_blur_mask', f)))).toBe(true);
      }
    }
  }, 240_000);
});
