import { describe, expect, it } from 'vitest';
import { createStack } from '../src/image.js';
import { otsuFromHistogram, otsuThreshold } from '../src/processing/otsu.js';
import { call } from './golden/pipeline.js';

describe('otsu_threshold', () => {
  it('splits a bimodal integer image between the modes (one bin per integer value)', () => {
    const s = createStack('uint8', 1, 2, 4);
    s.data.set([10, 10, 11, 12, 200, 201, 201, 202]);
    const out = call('otsu_threshold', s);
    const t = out.measurements![0]!.otsu_threshold!;
    expect(t).toBe(12); // skimage: the last bin of the lower class
    expect(out.stack.dtype).toBe('uint8');
    expect(Array.from(out.stack.data)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('returns the value of a constant image and an empty mask', () => {
    const s = createStack('float32', 1, 3, 3);
    s.data.fill(4.5);
    const out = call('otsu_threshold', s);
    expect(out.measurements).toEqual([{ otsu_threshold: 4.5 }]);
    expect(Array.from(out.stack.data)).toEqual(new Array(9).fill(0));
  });

  it('thresholds each plane on its own', () => {
    const s = createStack('uint16', 2, 1, 4);
    s.data.set([0, 0, 100, 100, 1000, 1000, 5000, 5000]);
    const out = call('otsu_threshold', s);
    expect(out.measurements!.map((m) => m.otsu_threshold)).toEqual([0, 1000]);
    expect(Array.from(out.stack.data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('float images: the threshold is a bin centre of the `bins`-bin histogram over [min, max]', () => {
    const a = new Float32Array([0, 0.1, 0.2, 0.8, 0.9, 1]);
    const t = otsuThreshold(a, 'float32', 4); // bins [0,.25) [.25,.5) [.5,.75) [.75,1]; centres .125 …
    expect(t).toBeCloseTo(0.125, 6);
    expect(otsuThreshold(a, 'float32', 2)).toBeCloseTo(0.25, 6);
  });

  it('refuses NaN and infinite float values (numpy.histogram does too)', () => {
    expect(() => otsuThreshold(new Float32Array([1, NaN, 3]), 'float32')).toThrow(/NaN/);
    expect(() => otsuThreshold(new Float32Array([1, Infinity, 3]), 'float32')).toThrow(/not finite/);
    expect(() => otsuThreshold(new Float32Array([-Infinity, 0]), 'float32')).toThrow(/not finite/);
  });

  it('otsuFromHistogram picks the first of equal maxima', () => {
    expect(otsuFromHistogram(new Float64Array([1, 0, 1]), new Float64Array([0, 1, 2]))).toBe(0);
  });
});
