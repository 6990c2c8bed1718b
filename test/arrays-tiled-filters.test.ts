// "Use it for real": a tiled Gaussian and a chunked Otsu over one image in worker threads must equal
// the untiled kernels of processing/ byte for byte — for every tile size (down to 1 row), images
// shorter than the kernel radius (where reflect wraps periodically), 2-D images and 3-D stacks.
import fc from 'fast-check';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_ENTRY, SharedArray, createChunkPool, gaussianTiles, tiledGaussian, tiledOtsu } from '../dist/arrays/index.js';
import { isPlateflowError } from '../dist/errors.js';
import type { DType, ImageStack, PixelArray } from '../src/image.js';
import { gaussianBlur, gaussianRadius } from '../src/processing/gaussian.js';
import { otsuThreshold } from '../src/processing/otsu.js';

let pool: Piscina;
let jsPool: Piscina;
beforeAll(() => {
  pool = createChunkPool({ threads: 2 });
  // A second pool whose workers must use the JS Gaussian, so both kernel paths of the tile worker are
  // compared with gaussianBlur (whichever backend that uses here). Any piscina can be injected.
  jsPool = new Piscina({ filename: CHUNK_ENTRY, minThreads: 1, maxThreads: 1, env: { ...process.env, PLATEFLOW_KERNELS: 'js' } });
});
afterAll(async () => {
  await Promise.all([pool.close(), jsPool.close()]);
});

/** Deterministic "cells on a gradient" with noise, so thresholds and blurs are not trivial. */
function synth<D extends DType>(dtype: D, shape: readonly number[], seed = 1): SharedArray<D> {
  const a = SharedArray.create(dtype, shape);
  const [h, w] = shape.slice(-2) as [number, number];
  const scale = dtype === 'uint8' ? 200 : dtype === 'float32' ? 1 : 3000;
  let s = seed >>> 0;
  for (let i = 0; i < a.size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const y = Math.floor(i / w) % h;
    const x = i % w;
    const blob = Math.sin(x / 3.1 + seed) * Math.cos(y / 2.7) > 0.6 ? 0.6 : 0;
    const v = (0.1 + (0.2 * x) / w + blob + (s / 2 ** 32) * 0.15) * scale;
    a.data[i] = dtype === 'float32' ? v : Math.round(v);
  }
  return a;
}

/** The array as an ImageStack for processing/ (a view: same memory). */
function asStack(a: SharedArray): ImageStack {
  const shape = a.ndim === 2 ? [1, a.shape[0]!, a.shape[1]!] : [...a.shape];
  return { dtype: a.dtype as DType, shape: shape as [number, number, number], data: a.data as PixelArray };
}

function sameBytes(x: ArrayBufferView, y: ArrayBufferView): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

describe('tiled Gaussian', () => {
  it.each([
    ['uint16', [300, 257], 2, 37, undefined],
    ['uint8', [64, 80], 1.5, 1, undefined], // one-row bands
    ['float32', [90, 70], 3, 16, 21], // 2-D tiles, halo on both axes
    ['uint16', [3, 40, 33], 0.7, 9, 10], // a stack, per plane
    ['float32', [3, 5], 3, 1, 1], // radius 12 > image: reflect wraps, tiles see the whole image
  ] as const)('%s %j, sigma %d, %d-row tiles (cols %s) equals gaussianBlur byte for byte', async (dtype, shape, sigma, tileRows, tileCols) => {
    const src = synth(dtype, shape);
    const ref = gaussianBlur(asStack(src), sigma);
    for (const p of [pool, jsPool]) {
      const out = await tiledGaussian(src, { pool: p, sigma, tileRows, ...(tileCols !== undefined ? { tileCols } : {}) });
      expect(out.shape).toEqual(shape);
      expect(sameBytes(out.data, ref.data)).toBe(true);
    }
  });

  it('equals gaussianBlur for random sizes, sigmas and tiles (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0.3, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
        fc.constantFrom<DType>('uint8', 'uint16', 'float32'),
        async (h, w, sigma, tileRows, tileCols, dtype) => {
          const src = synth(dtype, [h, w], h * 31 + w);
          const ref = gaussianBlur(asStack(src), sigma);
          const out = await tiledGaussian(src, { pool, sigma, tileRows, ...(tileCols !== undefined ? { tileCols } : {}) });
          expect(sameBytes(out.data, ref.data)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('gives each tile a halo of exactly the kernel radius', () => {
    const r = gaussianRadius(2, 4);
    const tiles = gaussianTiles([100, 50], 2, 4, 25);
    expect(tiles.map((t) => [t.outer[0]!.start, t.outer[0]!.end])).toEqual([[0, 25 + r], [25 - r, 50 + r], [50 - r, 75 + r], [75 - r, 100]]);
  });

  it('refuses to write into its own input, and bad sigmas', async () => {
    const src = synth('float32', [10, 10]);
    await expect(tiledGaussian(src, { pool, sigma: 1, out: src as SharedArray<'float32'> })).rejects.toSatisfy((e: unknown) => isPlateflowError(e, 'E_CHUNK_INVALID'));
    await expect(tiledGaussian(src, { pool, sigma: 0 })).rejects.toSatisfy((e: unknown) => isPlateflowError(e, 'E_CHUNK_INVALID'));
  });
});

/** otsuThreshold and its `> t` mask, plane by plane, on the whole image: the reference. */
function serialOtsu(a: SharedArray, bins = 256): { thresholds: number[]; mask: Uint8Array } {
  const stack = asStack(a);
  const [n, h, w] = stack.shape;
  const mask = new Uint8Array(a.size);
  const thresholds: number[] = [];
  for (let p = 0; p < n; p++) {
    const plane = stack.data.subarray(p * h * w, (p + 1) * h * w) as PixelArray;
    const t = otsuThreshold(plane, stack.dtype, bins);
    thresholds.push(t);
    for (let i = 0; i < plane.length; i++) mask[p * h * w + i] = plane[i]! > t ? 1 : 0;
  }
  return { thresholds, mask };
}

describe('chunked Otsu', () => {
  it.each([
    ['uint8', [200, 150], 256],
    ['uint16', [120, 97], 256],
    ['int32', [50, 50], 256],
    ['float32', [128, 100], 256],
    ['float32', [60, 70], 37],
    ['uint16', [4, 33, 41], 256], // per plane
  ] as const)('%s %j (bins %d): thresholds and mask equal otsuThreshold on the whole image', async (dtype, shape, bins) => {
    const src = synth(dtype, shape, 7);
    const ref = serialOtsu(src, bins);
    const got = await tiledOtsu(src, { pool, bins, chunkElements: 997 }); // chunks straddle rows
    expect(got.thresholds).toEqual(ref.thresholds);
    expect(sameBytes(got.mask.data, ref.mask)).toBe(true);
  });

  it('a constant plane thresholds at its value (mask all 0), like otsuThreshold', async () => {
    const src = SharedArray.create('uint16', [2, 8, 8]);
    src.data.fill(42, 0, 64);
    for (let i = 64; i < 128; i++) src.data[i] = i % 5;
    const got = await tiledOtsu(src, { pool, chunkElements: 10 });
    expect(got.thresholds).toEqual(serialOtsu(src).thresholds);
    expect(got.thresholds[0]).toBe(42);
  });

  it('rejects NaN and infinite values like otsuThreshold', async () => {
    for (const [bad, why] of [[Number.NaN, /NaN/], [Number.POSITIVE_INFINITY, /not finite/]] as const) {
      const src = synth('float32', [20, 20]);
      src.data[123] = bad;
      expect(() => serialOtsu(src)).toThrow(why);
      await expect(tiledOtsu(src, { pool, chunkElements: 50 })).rejects.toThrow(why);
    }
  });

  it('Gaussian then Otsu, both chunked, equals gaussianBlur then otsuThreshold', async () => {
    const src = synth('uint16', [257, 190], 3);
    const blurred = await tiledGaussian(src, { pool, sigma: 2, tileRows: 32 });
    const got = await tiledOtsu(blurred, { pool, chunkElements: 4096 });
    const refBlur = gaussianBlur(asStack(src), 2);
    const refT = otsuThreshold(refBlur.data, 'float32');
    expect(got.thresholds).toEqual([refT]);
    const refMask = Uint8Array.from(refBlur.data, (v) => (v > refT ? 1 : 0));
    expect(sameBytes(got.mask.data, refMask)).toBe(true);
  });
});
