/**
 * plateflow's built-ins against SciPy / scikit-image outputs written by test/golden/make_golden.py.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageStack, PixelArray } from '../src/image.js';
import { otsuThreshold } from '../src/processing/otsu.js';
import { percentiles } from '../src/processing/percentile.js';
import { ARRAYSCAN_DIR, arrayscanAvailable, readArray, readManifest, readSimpleTiff, readStack, type CaseRecord } from './golden/golden-io.js';
import { call, peerSegment } from './golden/pipeline.js';

const manifest = readManifest();

/** Largest |a - b| over a window of `actual` (h×w plane) against `expected` (eh×ew at y, x). */
function maxAbsDiff(actual: PixelArray, w: number, expected: PixelArray, ew: number, y = 0, x = 0): number {
  const eh = expected.length / ew;
  let worst = 0;
  for (let r = 0; r < eh; r++) {
    for (let c = 0; c < ew; c++) {
      const d = Math.abs(actual[(y + r) * w + x + c]! - expected[r * ew + c]!);
      if (!(d <= worst)) worst = d;
    }
  }
  return worst;
}

function countAbove(data: PixelArray, t: number): number {
  let n = 0;
  for (const v of data) if (v > t) n++;
  return n;
}

function checkCase(c: CaseRecord, input: ImageStack): void {
  const [, h, w] = input.shape;
  const report: string[] = [];
  for (const g of c.gaussian) {
    const blurred = call('gaussian_blur', input, { sigma: g.sigma, truncate: g.truncate }).stack;
    expect(blurred.dtype).toBe('float32');
    const tolerance = 1e-3 * Math.max(c.range, 1e-30);
    let worst = 0;
    if (g.output) worst = maxAbsDiff(blurred.data, w, readArray(g.output), w);
    for (const crop of g.crops ?? []) {
      worst = Math.max(worst, maxAbsDiff(blurred.data, w, readArray(crop), crop.shape[1]!, crop.y, crop.x));
    }
    report.push(`σ${g.sigma}: max|Δ| ${worst.toExponential(2)} (range ${c.range})`);
    expect(worst).toBeLessThanOrEqual(tolerance);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of blurred.data) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(Math.abs(min - g.min)).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(max - g.max)).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(sum - g.sum)).toBeLessThanOrEqual(1e-6 * Math.abs(g.sum) + tolerance);
    // Otsu on the blurred float32 image: same bin, same mask.
    const t = otsuThreshold(blurred.data, 'float32', 256);
    expect(Math.abs(t - g.otsu.threshold)).toBeLessThanOrEqual(g.otsu.bin_width / 2);
    expect(countAbove(blurred.data, t)).toBe(g.otsu.above);
  }
  const t = otsuThreshold(input.data, input.dtype, 256);
  expect(Math.abs(t - c.otsu_input.threshold)).toBeLessThanOrEqual(c.otsu_input.bin_width / 2);
  expect(countAbove(input.data, t)).toBe(c.otsu_input.above);
  for (const [bins, rec] of Object.entries(c.otsu_input_bins)) {
    const tb = otsuThreshold(input.data, input.dtype, Number(bins));
    expect(Math.abs(tb - rec.threshold)).toBeLessThanOrEqual(rec.bin_width / 2);
    expect(countAbove(input.data, tb)).toBe(rec.above);
  }
  for (const conn of [4, 8] as const) {
    const expected = c.segment[conn];
    const got = peerSegment(input, conn, manifest.min_size);
    expect({ labels: got.labels, objects: got.objects, foreground: got.foreground }).toEqual({
      labels: expected.labels,
      objects: expected.objects_min20,
      foreground: expected.foreground,
    });
    if (expected.label_image) {
      const labels = call('label', call('otsu_threshold', got.blurred).stack, { connectivity: conn }).stack.data;
      expect(Array.from(labels)).toEqual(Array.from(readArray(expected.label_image)));
    }
  }
  const blurred2 = call('gaussian_blur', input, { sigma: 2 }).stack;
  const tol = 1e-6 * Math.max(c.range, 1);
  const pin = percentiles(input.data, input.dtype, c.percentiles.q);
  const pbl = percentiles(blurred2.data, 'float32', c.percentiles.q);
  c.percentiles.q.forEach((_, i) => {
    expect(Math.abs(pin[i]! - c.percentiles.input[i]!)).toBeLessThanOrEqual(tol);
    expect(Math.abs(pbl[i]! - c.percentiles.blurred2[i]!)).toBeLessThanOrEqual(tol);
  });
  console.log(`${c.name} (${h}×${w} ${input.dtype}): ${report.join(', ')}`);
}

describe('golden: synthetic inputs vs scipy / skimage', () => {
  for (const c of manifest.cases) {
    it(c.name, () => checkCase(c, readStack(c.input)));
  }
});

describe('golden: raw masks, labels vs scipy.ndimage.label', () => {
  for (const m of manifest.masks) {
    it(m.name, () => {
      const mask = readStack(m.input);
      for (const conn of [4, 8] as const) {
        const lab = call('label', mask, { connectivity: conn });
        expect(lab.measurements![0]!.label_count).toBe(m[conn].labels);
        expect(Array.from(lab.stack.data)).toEqual(Array.from(readArray(m[conn].label_image)));
        for (const [minSize, n] of Object.entries(m[conn].objects)) {
          const fromLabels = call('count_objects', lab.stack, { min_size: Number(minSize) }).measurements![0]!.object_count;
          const fromMask = call('count_objects', mask, { min_size: Number(minSize), connectivity: conn }).measurements![0]!.object_count;
          expect([fromLabels, fromMask]).toEqual([n, n]);
        }
      }
    });
  }
});

describe.skipIf(!arrayscanAvailable() || !manifest.real)('golden: real ArrayScan image', () => {
  it(manifest.real?.name ?? 'real', () => {
    const real = manifest.real!;
    const input = readSimpleTiff(path.join(ARRAYSCAN_DIR, real.input.source!));
    expect(input.dtype).toBe(real.input.dtype);
    expect(input.shape.slice(1)).toEqual(real.input.shape);
    let sum = 0;
    for (const v of input.data) sum += v;
    expect(sum).toBe(real.input.sum);
    checkCase(real, input);
  });
});
