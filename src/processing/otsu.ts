import { z } from 'zod';
import type { DType, ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';

/**
 * Otsu's threshold with exactly the semantics of `skimage.filters.threshold_otsu(image, nbins)`
 * (scikit-image 0.19–0.24):
 *
 * - all pixels equal → that value;
 * - integer images: one bin per integer value from min to max (`nbins` is ignored, as in skimage);
 * - float32 images: `numpy.histogram(image, nbins)` over [min, max] — float32 bin edges from
 *   `linspace`, bin index ⌊(x − min)·(nbins / (max − min))⌋ in float32 with numpy's ±1 edge fix-ups,
 *   the last bin closed — and bin centres (e[i] + e[i+1]) / 2 in float32;
 * - the threshold is the centre of the bin i maximising w1(i)·w2(i+1)·(μ1(i) − μ2(i+1))², computed in
 *   float64 with numpy's cumulative-sum order; ties go to the lowest bin.
 *
 * The foreground is `value > threshold`.
 */
export function otsuThreshold(plane: PixelArray, dtype: DType, nbins = 256): number {
  const n = plane.length;
  if (n === 0) throw new RangeError('otsu_threshold: empty image');
  let min = plane[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = plane[i]!;
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  if (Number.isNaN(min) || Number.isNaN(max)) throw new RangeError('otsu_threshold: image contains NaN');
  if (min === max) return min;
  if (dtype === 'float32') return otsuFromHistogram(...floatHistogram(plane as Float32Array, min, max, nbins));
  const range = max - min + 1;
  if (range > 1 << 26) {
    throw new RangeError(`otsu_threshold: integer range ${min}..${max} is too wide for one bin per value`);
  }
  const counts = new Float64Array(range);
  for (let i = 0; i < n; i++) counts[plane[i]! - min]++;
  const centers = new Float64Array(range);
  for (let i = 0; i < range; i++) centers[i] = min + i;
  return otsuFromHistogram(counts, centers);
}

/** numpy.histogram(a, bins=nbins) for float32 data with the range [min, max] of the data. */
export function floatHistogram(a: Float32Array, min: number, max: number, nbins: number): [Float64Array, Float64Array] {
  // np.linspace(min, max, nbins + 1, dtype=float32): computed in float64, last edge set to max, then cast.
  const edges = new Float32Array(nbins + 1);
  const delta = max - min;
  const step = delta / nbins;
  for (let i = 0; i < nbins; i++) edges[i] = step === 0 ? (i / nbins) * delta + min : i * step + min;
  edges[nbins] = max;
  // norm = nbins / float32(max - min), then used in a float32 multiply.
  const norm = Math.fround(nbins / Math.fround(max - min));
  const fmin = Math.fround(min);
  const counts = new Float64Array(nbins);
  const last = nbins - 1;
  for (let i = 0, n = a.length; i < n; i++) {
    const x = a[i]!;
    let idx = Math.trunc(Math.fround(Math.fround(x - fmin) * norm));
    if (idx === nbins) idx = last;
    if (x < edges[idx]!) idx--;
    if (idx !== last && x >= edges[idx + 1]!) idx++;
    counts[idx]++;
  }
  const centers = new Float64Array(nbins);
  for (let i = 0; i < nbins; i++) centers[i] = Math.fround(edges[i]! + edges[i + 1]!) / 2;
  return [counts, centers];
}

/** skimage's between-class-variance maximisation over a histogram whose first and last counts are > 0. */
export function otsuFromHistogram(counts: Float64Array, centers: Float64Array): number {
  const nb = counts.length;
  if (nb < 2) return centers[0]!;
  // Reverse cumulative sums: weight2[i] = Σ_{k ≥ i} counts[k], summed from the end as numpy does.
  const weight2 = new Float64Array(nb);
  const mean2 = new Float64Array(nb);
  let cw = 0;
  let cs = 0;
  for (let i = nb - 1; i >= 0; i--) {
    cw += counts[i]!;
    cs += counts[i]! * centers[i]!;
    weight2[i] = cw;
    mean2[i] = cs / cw;
  }
  let w1 = 0;
  let s1 = 0;
  let best = -Infinity;
  let bestIdx = 0;
  for (let i = 0; i < nb - 1; i++) {
    w1 += counts[i]!;
    s1 += counts[i]! * centers[i]!;
    const d = s1 / w1 - mean2[i + 1]!;
    const v = w1 * weight2[i + 1]! * (d * d);
    if (v > best || Number.isNaN(v)) {
      best = v;
      bestIdx = i;
      if (Number.isNaN(v)) break; // np.argmax returns the first NaN
    }
  }
  return centers[bestIdx]!;
}

export const otsuKwargs = z.strictObject({
  bins: z.int().min(2).max(1 << 20).default(256),
});

export const otsuThresholdFunction = defineFunction({
  name: 'otsu_threshold',
  description:
    'Per-plane Otsu threshold (skimage.filters.threshold_otsu semantics; `bins` applies to float32 images, integer images use one bin per value); uint8 mask out, 1 where value > threshold; measurement `otsu_threshold`.',
  kwargs: otsuKwargs,
  run: (stack: ImageStack, kw, ctx) => {
    const [n, h, w] = stack.shape;
    const size = h * w;
    const mask = new Uint8Array(n * size);
    const measurements: Record<string, number>[] = [];
    const data = stack.data;
    for (let p = 0; p < n; p++) {
      checkAborted(ctx);
      const plane = data.subarray(p * size, (p + 1) * size) as PixelArray;
      const t = otsuThreshold(plane, stack.dtype, kw.bins);
      const o = p * size;
      for (let i = 0; i < size; i++) mask[o + i] = plane[i]! > t ? 1 : 0;
      measurements.push({ otsu_threshold: t });
    }
    return { stack: { dtype: 'uint8', shape: [n, h, w], data: mask }, measurements };
  },
});
