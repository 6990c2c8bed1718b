/**
 * The WASM kernels (build/kernels.wasm, `node scripts/build-wasm.mjs`) must give the same bits as the
 * JS kernels, which are pinned to SciPy by the golden tests. Skipped when the .wasm is not built.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type ImageStack } from '../src/image.js';
import { gaussianBlur } from '../src/processing/gaussian.js';
import { maxProjection } from '../src/processing/max-projection.js';
import { countLabels } from '../src/processing/count-objects.js';
import { labelPlane } from '../src/processing/label.js';
import { otsuFloat } from '../src/processing/otsu.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { forceJsKernels, kernelBackend, loadKernelsFrom, wasmKernels } from '../src/processing/wasm.js';

const wasmBuilt = wasmKernels() !== null;

function both<T>(fn: () => T): { js: T; wasm: T } {
  forceJsKernels(true);
  const js = fn();
  forceJsKernels(false);
  return { js, wasm: fn() };
}

function bits(a: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(a).buffer));
}

function randomStack(dtype: 'uint8' | 'uint16' | 'float32', planes: number, h: number, w: number, seed: number): ImageStack {
  const s = createStack(dtype, planes, h, w);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < s.data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const smooth = Math.sin(i / 37) * 0.5 + 0.5;
    s.data[i] = dtype === 'uint8' ? (x % 64) + 180 * smooth : dtype === 'uint16' ? (x % 2000) + 40000 * smooth : Math.fround((x / 2 ** 32 - 0.5) * 3 + 10 * smooth);
  }
  return s;
}

afterEach(() => {
  forceJsKernels(false);
});

describe('kernel backend selection', () => {
  it('reports js when forced, and wasm when the module is built', () => {
    forceJsKernels(true);
    expect(kernelBackend()).toBe('js');
    forceJsKernels(false);
    expect(kernelBackend()).toBe(wasmBuilt ? 'wasm' : 'js');
  });

  it('a missing or broken kernels.wasm means JS kernels, silently', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plateflow-wasm-'));
    try {
      expect(loadKernelsFrom(pathToFileURL(path.join(dir, 'absent.wasm')))).toBeNull();
      writeFileSync(path.join(dir, 'broken.wasm'), 'not wasm');
      expect(loadKernelsFrom(pathToFileURL(path.join(dir, 'broken.wasm')))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!wasmBuilt)('WASM kernels = JS kernels, bit for bit', () => {
  const dims = fc.record({
    h: fc.integer({ min: 1, max: 40 }),
    w: fc.integer({ min: 1, max: 40 }),
    seed: fc.integer(),
    dtype: fc.constantFrom('uint8' as const, 'uint16' as const, 'float32' as const),
  });

  it('gaussian_blur for any size, dtype and sigma (odd widths, lines shorter than the radius)', () => {
    fc.assert(
      fc.property(dims, fc.double({ min: 0.05, max: 8, noNaN: true }), fc.constantFrom(4, 3, 2.5), ({ h, w, seed, dtype }, sigma, truncate) => {
        const s = randomStack(dtype, 2, h, w, seed);
        const { js, wasm } = both(() => gaussianBlur(s, sigma, truncate).data);
        expect(bits(wasm)).toEqual(bits(js));
      }),
      { numRuns: 150 },
    );
  });

  it('otsu threshold and mask on float32 planes, for several bin counts', () => {
    fc.assert(
      fc.property(dims, fc.constantFrom(2, 16, 256, 1000), ({ h, w, seed }, bins) => {
        const plane = randomStack('float32', 1, h, w, seed).data as Float32Array;
        const { js, wasm } = both(() => {
          const mask = new Uint8Array(plane.length);
          return { t: otsuFloat(plane, bins, mask), mask: Array.from(mask) };
        });
        expect(wasm).toEqual(js);
      }),
      { numRuns: 150 },
    );
  });

  it('otsu on blurred 512² images (where bins are crowded)', () => {
    for (const seed of [1, 2, 3]) {
      const blurred = gaussianBlur(randomStack('uint16', 1, 512, 512, seed), 2).data;
      const { js, wasm } = both(() => {
        const mask = new Uint8Array(blurred.length);
        const t = otsuFloat(blurred, 256, mask);
        let fg = 0;
        for (const v of mask) fg += v;
        return { t, fg };
      });
      expect(wasm).toEqual(js);
    }
  });

  it('max projection of uint8 and uint16 stacks', () => {
    fc.assert(
      fc.property(dims, fc.integer({ min: 2, max: 5 }), ({ h, w, seed, dtype }, planes) => {
        const s = randomStack(dtype === 'float32' ? 'uint16' : dtype, planes, h, w, seed);
        const { js, wasm } = both(() => maxProjection(s));
        expect(wasm.dtype).toBe(s.dtype);
        expect(Array.from(wasm.data)).toEqual(Array.from(js.data));
      }),
      { numRuns: 100 },
    );
  });

  it('max projection of planes larger than one WASM pass, with a partial last pass', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 300 }), fc.integer({ min: 280, max: 400 }), fc.integer(), fc.constantFrom('uint8' as const, 'uint16' as const), fc.integer({ min: 2, max: 4 }), (h, w, seed, dtype, planes) => {
        const s = randomStack(dtype, planes, h, w, seed);
        const { js, wasm } = both(() => maxProjection(s));
        expect(Array.from(wasm.data)).toEqual(Array.from(js.data));
      }),
      { numRuns: 20 },
    );
  });

  it('labels and object sizes of uint8 masks, both connectivities (rows longer than a SIMD skip)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 90 }), fc.double({ min: 0.02, max: 0.95, noNaN: true }), fc.integer(), fc.integer({ min: 0, max: 6 }), (h, w, density, seed, minSize) => {
        const mask = new Uint8Array(h * w);
        let x = seed >>> 0 || 1;
        for (let i = 0; i < mask.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          // Clustered: long empty stretches (the 16-byte skip) between blobs.
          mask[i] = x / 2 ** 32 < density * (Math.sin(i / 23) > 0.3 ? 1 : 0.1) ? 1 + (x % 200) : 0;
        }
        for (const connectivity of [4, 8] as const) {
          const { js, wasm } = both(() => {
            const labels = new Uint32Array(h * w).fill(7); // stale values must be overwritten
            const count = labelPlane(mask, h, w, connectivity, labels);
            return { count, labels: Array.from(labels), objects: countLabels(labels, minSize) };
          });
          expect(wasm).toEqual(js);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('object counts of label images with labels too large for the size table fall back to JS', () => {
    const labels = new Uint32Array([0, 5, 5, 1_000_000, 1_000_000, 1_000_000, 2, 0]);
    const { js, wasm } = both(() => [countLabels(labels, 0), countLabels(labels, 2), countLabels(labels, 3)]);
    expect(wasm).toEqual(js);
    expect(js).toEqual([3, 2, 1]);
  });
});
