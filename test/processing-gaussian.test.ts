import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStack } from '../src/image.js';
import { gaussianHalfKernel, gaussianRadius, reflectIndex } from '../src/processing/gaussian.js';
import { call } from './golden/pipeline.js';

describe('gaussian_blur', () => {
  it('uses scipy radius int(truncate·σ + 0.5) and a kernel that sums to 1', () => {
    expect(gaussianRadius(1, 4)).toBe(4);
    expect(gaussianRadius(2, 4)).toBe(8);
    expect(gaussianRadius(3.5, 4)).toBe(14);
    expect(gaussianRadius(0.1, 4)).toBe(0);
    const half = gaussianHalfKernel(2, 4);
    let sum = half[0]!;
    for (let j = 1; j < half.length; j++) sum += 2 * half[j]!;
    expect(sum).toBeCloseTo(1, 14);
  });

  it("reflect extension is half-sample symmetric and periodic (d c b a | a b c d | d c b a)", () => {
    const n = 4;
    const ext = [];
    for (let i = -6; i < n + 6; i++) ext.push(reflectIndex(i, n));
    expect(ext).toEqual([2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1]);
  });

  it('an impulse in the middle spreads as the outer product of the 1-D kernel', () => {
    const s = createStack('uint16', 1, 21, 21);
    s.data[10 * 21 + 10] = 1000;
    const out = call('gaussian_blur', s, { sigma: 1.5 }).stack;
    const half = gaussianHalfKernel(1.5, 4);
    for (const [dy, dx] of [[0, 0], [1, 0], [0, 3], [2, 2], [-4, 1]] as const) {
      const expected = 1000 * half[Math.abs(dy)]! * half[Math.abs(dx)]!;
      expect(out.data[(10 + dy) * 21 + 10 + dx]).toBeCloseTo(expected, 3);
    }
  });

  it('keeps a constant image constant, for any size and sigma (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.3, max: 6, noNaN: true }), (h, w, sigma) => {
        const s = createStack('float32', 2, h, w);
        s.data.fill(7.25, 0, h * w);
        for (let i = h * w; i < 2 * h * w; i++) s.data[i] = (i * 37) % 11;
        const out = call('gaussian_blur', s, { sigma }).stack;
        expect(out.shape).toEqual([2, h, w]);
        for (let i = 0; i < h * w; i++) expect(out.data[i]).toBeCloseTo(7.25, 4);
      }),
    );
  });

  it('accepts empty planes (0×w, h×0) and returns an empty float32 stack', () => {
    for (const [h, w] of [[0, 5], [5, 0], [0, 0]] as const) {
      const out = call('gaussian_blur', createStack('uint16', 2, h, w), { sigma: 2 }).stack;
      expect(out.shape).toEqual([2, h, w]);
      expect(out.data.length).toBe(0);
    }
  });

  it('blurs each plane independently', () => {
    const s = createStack('uint8', 2, 5, 5);
    s.data[12] = 200;
    const out = call('gaussian_blur', s, { sigma: 1 }).stack;
    expect(Array.from(out.data.subarray(25))).toEqual(new Array(25).fill(0));
    expect(out.data[12]).toBeGreaterThan(0);
  });
});
