import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStack } from '../src/image.js';
import { estimateFlatField } from '../src/processing/illumination-correct.js';
import { percentiles } from '../src/processing/percentile.js';
import { call } from './golden/pipeline.js';

describe('image_stats', () => {
  it('passes through and measures min, max, mean, population std per plane', () => {
    const s = createStack('uint16', 2, 1, 4);
    s.data.set([2, 4, 4, 6, 10, 10, 10, 10]);
    const out = call('image_stats', s);
    expect(out.stack).toBe(s);
    expect(out.measurements).toEqual([
      { min: 2, max: 6, mean: 4, std: Math.sqrt(2) },
      { min: 10, max: 10, mean: 10, std: 0 },
    ]);
  });
});

describe('percentiles (numpy linear)', () => {
  it('matches numpy.percentile on a small integer and float sample', () => {
    const qs = [0, 1, 33, 50, 99.9, 100];
    const want = [1, 1.03, 1.99, 2.5, 9.979, 10];
    const u8 = percentiles(new Uint8Array([3, 1, 2, 10]), 'uint8', qs);
    const f32 = percentiles(new Float32Array([3, 1, 2, 10]), 'float32', qs);
    want.forEach((v, i) => {
      expect(u8[i]).toBeCloseTo(v, 12);
      expect(f32[i]).toBeCloseTo(v, 12);
    });
  });
});

describe('percentiles: selection without a full sort agrees with sorting (property)', () => {
  it('float32 (negatives, zeros, repeats) and uint16', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 300 }),
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 5 }),
        (values, qs) => {
          const data = Float32Array.from(values);
          const sorted = Float64Array.from(data).sort();
          const n = sorted.length;
          const want = qs.map((q) => {
            const v = (q / 100) * (n - 1);
            const lo = Math.floor(v);
            const t = v - lo;
            const a = sorted[lo]!;
            const b = sorted[Math.min(lo + 1, n - 1)]!;
            return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
          });
          expect(percentiles(data, 'float32', qs)).toEqual(want);
          const ints = Uint16Array.from(values, (v) => Math.abs(Math.trunc(v)) % 65536);
          const si = Float64Array.from(ints).sort();
          expect(percentiles(ints, 'uint16', [0, 50, 100])).toEqual([si[0], percentiles(Float32Array.from(si), 'float32', [50])[0], si[n - 1]]);
        },
      ),
    );
  });
});

describe('percentile_normalize', () => {
  it('maps [P_low, P_high] to [0, 1] and clips outside', () => {
    const s = createStack('uint16', 1, 1, 5);
    s.data.set([0, 10, 20, 30, 40]);
    const out = call('percentile_normalize', s, { low: 25, high: 75 });
    expect(out.stack.dtype).toBe('float32');
    expect(Array.from(out.stack.data)).toEqual([0, 0, 0.5, 1, 1]);
    expect(out.measurements).toEqual([{ percentile_low: 10, percentile_high: 30 }]);
  });

  it('defaults to 1 … 99.9 and gives zeros for a constant plane', () => {
    const s = createStack('float32', 1, 2, 2);
    s.data.fill(3);
    const out = call('percentile_normalize', s);
    expect(Array.from(out.stack.data)).toEqual([0, 0, 0, 0]);
    expect(out.measurements).toEqual([{ percentile_low: 3, percentile_high: 3 }]);
  });
});

describe('illumination_correct', () => {
  it('removes a multiplicative flat field shared by all planes (mean and median)', () => {
    const h = 16;
    const w = 20;
    const n = 5;
    const s = createStack('float32', n, h, w);
    const flat = (y: number, x: number) => 1 + 0.5 * (x / w) + 0.25 * (y / h);
    for (let p = 0; p < n; p++) {
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) s.data[p * h * w + y * w + x] = (100 + 10 * p) * flat(y, x);
    }
    for (const method of ['mean', 'median'] as const) {
      const out = call('illumination_correct', s, { method, sigma: 0 }).stack;
      expect(out.dtype).toBe('float32');
      for (let p = 0; p < n; p++) {
        const plane = out.data.subarray(p * h * w, (p + 1) * h * w);
        const first = plane[0]!;
        for (const v of plane) expect(v / first).toBeCloseTo(1, 5); // flat after correction
      }
    }
  });

  it('the flat field has mean 1 and is smooth after sigma > 0', () => {
    const s = createStack('uint16', 3, 8, 8);
    for (let i = 0; i < s.data.length; i++) s.data[i] = 100 + ((i * 7919) % 50);
    const flat = estimateFlatField(s, 'mean', 2);
    let sum = 0;
    for (const v of flat) sum += v;
    expect(sum / flat.length).toBeCloseTo(1, 6);
    expect(Math.max(...flat) - Math.min(...flat)).toBeLessThan(0.2);
  });

  it('refuses an all-zero stack', () => {
    expect(() => call('illumination_correct', createStack('uint8', 2, 3, 3))).toThrow(/mean is 0/);
  });

  it('median flat field of many planes (sorted path) equals the small-N path', () => {
    const planes = 40;
    const s = createStack('uint16', planes, 3, 4);
    for (let i = 0; i < s.data.length; i++) s.data[i] = 100 + ((i * 7919) % 97);
    const big = estimateFlatField(s, 'median', 0);
    // the same median computed by sorting each pixel's column directly
    const want = new Float32Array(12);
    for (let i = 0; i < 12; i++) {
      const col = Array.from({ length: planes }, (_, p) => s.data[p * 12 + i]!).sort((a, b) => a - b);
      want[i] = (col[19]! + col[20]!) / 2;
    }
    let mean = 0;
    for (const v of want) mean += v / 12;
    expect(Array.from(big)).toEqual(Array.from(want, (v) => Math.fround(v / mean)));
  });
});
