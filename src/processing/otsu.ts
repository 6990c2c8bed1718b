import { z } from 'zod';
import { allocate, type DType, type ImageStack, type PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { wasmKernels, wasmRegions } from './wasm.js';

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
 * The foreground is `value > threshold`. float64 images are thresholded as float32 (their values
 * rounded to float32 for the histogram; the mask still compares the float64 values).
 *
 * @throws RangeError for an empty image, NaN or ±Infinity in a float image (unless all pixels are equal),
 *   or an integer range wider than 2^26.
 */
export function otsuThreshold(plane: PixelArray, dtype: DType, nbins = 256): number {
  if (plane.length === 0) throw new RangeError('otsu_threshold: empty image');
  if (dtype === 'float32') return otsuFloat(plane as Float32Array, nbins, null);
  if (dtype === 'float64') return otsuFloat(Float32Array.from(plane), nbins, null);
  return otsuInteger(plane as IntegerPlane);
}

/**
 * Threshold of one float32 plane, and when `mask` is given also mask[i] = plane[i] > threshold.
 * Runs in the WASM kernels when they are loaded (float32 arithmetic there is the same IEEE single
 * precision numpy uses), else in JS with Math.fround.
 */
export function otsuFloat(plane: Float32Array, nbins: number, mask: Uint8Array | null): number {
  const n = plane.length;
  const k = wasmKernels();
  const regions = k && wasmRegions(k, [4 * n, mask ? n : 0, 4 * (nbins + 1), 4 * nbins, 8, 16 * nbins]);
  if (k && regions) {
    const [src, dst, edgesAt, countsAt, mm, sub] = regions as [number, number, number, number, number, number];
    new Float32Array(k.memory.buffer, src, n).set(plane);
    k.minMaxF32(src, n, mm);
    const [min, max] = new Float32Array(k.memory.buffer, mm, 2) as unknown as [number, number];
    const t = thresholdFromRange(min, max, nbins, (edges, lo, norm) => {
      new Float32Array(k.memory.buffer, edgesAt, nbins + 1).set(edges);
      k.histF32(src, n, edgesAt, nbins, lo, norm, countsAt, sub);
      return Float64Array.from(new Uint32Array(k.memory.buffer, countsAt, nbins));
    });
    if (mask) {
      k.maskGtF32(src, n, t, dst);
      mask.set(new Uint8Array(k.memory.buffer, dst, n));
    }
    return t;
  }
  let min = plane[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = plane[i]!;
    if (v < min) min = v;
    else if (v > max) max = v;
    else if (v !== v) min = max = NaN;
  }
  const t = thresholdFromRange(min, max, nbins, (edges, lo, norm) => histogramF32(plane, edges, lo, norm));
  if (mask) for (let i = 0; i < n; i++) mask[i] = plane[i]! > t ? 1 : 0;
  return t;
}

/** The float path after min/max: edges like np.linspace(min, max, nbins + 1, dtype=float32). */
function thresholdFromRange(
  min: number,
  max: number,
  nbins: number,
  histogram: (edges: Float32Array, lo: number, norm: number) => Float64Array,
): number {
  if (Number.isNaN(min) || Number.isNaN(max)) throw new RangeError('otsu_threshold: image contains NaN');
  if (min === max) return min;
  // numpy.histogram refuses these too ("autodetected range … is not finite").
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`otsu_threshold: value range [${min}, ${max}] is not finite`);
  // np.linspace in float64: i·step + min, last edge set to max, then cast to float32.
  const edges = new Float32Array(nbins + 1);
  const delta = max - min;
  const step = delta / nbins;
  for (let i = 0; i < nbins; i++) edges[i] = step === 0 ? (i / nbins) * delta + min : i * step + min;
  edges[nbins] = max;
  // norm = nbins / float32(max − min) in float64, then used in a float32 multiply.
  const norm = Math.fround(nbins / Math.fround(max - min));
  const counts = histogram(edges, Math.fround(min), norm);
  const centers = new Float64Array(nbins);
  for (let i = 0; i < nbins; i++) centers[i] = Math.fround(edges[i]! + edges[i + 1]!) / 2;
  return otsuFromHistogram(counts, centers);
}

function histogramF32(a: Float32Array, edges: Float32Array, lo: number, norm: number): Float64Array {
  const nbins = edges.length - 1;
  const counts = new Uint32Array(nbins);
  const last = nbins - 1;
  for (let i = 0, n = a.length; i < n; i++) {
    const x = a[i]!;
    let idx = Math.trunc(Math.fround(Math.fround(x - lo) * norm));
    if (idx === nbins) idx = last;
    if (x < edges[idx]!) idx--;
    if (idx !== last && x >= edges[idx + 1]!) idx++;
    counts[idx]++;
  }
  return Float64Array.from(counts);
}

type IntegerPlane = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** Integer images: skimage's bincount histogram, one bin per value from min to max. */
function otsuInteger(plane: IntegerPlane): number {
  const n = plane.length;
  let min = plane[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = plane[i]!;
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  if (min === max) return min;
  const range = max - min + 1;
  if (range > 1 << 26) {
    throw new RangeError(`otsu_threshold: integer range ${min}..${max} is too wide for one bin per value`);
  }
  const bins = new Uint32Array(range);
  for (let i = 0; i < n; i++) bins[plane[i]! - min]++;
  const centers = new Float64Array(range);
  for (let i = 0; i < range; i++) centers[i] = min + i;
  return otsuFromHistogram(Float64Array.from(bins), centers);
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

function maskAbove(plane: IntegerPlane | Float64Array, t: number, mask: Uint8Array): void {
  for (let i = 0, n = plane.length; i < n; i++) mask[i] = plane[i]! > t ? 1 : 0;
}

export const otsuKwargs = z.strictObject({
  bins: z.int().min(2).max(1 << 20).default(256),
});

export const otsuThresholdFunction = defineFunction({
  name: 'otsu_threshold',
  description:
    'Per-plane Otsu threshold (skimage.filters.threshold_otsu semantics; `bins` applies to float images, integer images use one bin per value; float64 is histogrammed as float32); uint8 mask out, 1 where value > threshold; measurement `otsu_threshold`.',
  kwargs: otsuKwargs,
  run: (stack: ImageStack, kw, ctx) => {
    const [n, h, w] = stack.shape;
    const size = h * w;
    if (size === 0) throw new RangeError('otsu_threshold: empty image');
    const mask = (ctx.allocate ?? allocate)('uint8', n * size);
    const measurements: Record<string, number>[] = [];
    const data = stack.data;
    for (let p = 0; p < n; p++) {
      checkAborted(ctx);
      const plane = data.subarray(p * size, (p + 1) * size);
      const out = mask.subarray(p * size, (p + 1) * size);
      let t: number;
      if (stack.dtype === 'float32') t = otsuFloat(plane as Float32Array, kw.bins, out);
      else if (stack.dtype === 'float64') {
        t = otsuFloat(Float32Array.from(plane), kw.bins, null);
        maskAbove(plane as Float64Array, t, out);
      } else {
        const ints = plane as IntegerPlane;
        t = otsuInteger(ints);
        maskAbove(ints, t, out);
      }
      measurements.push({ otsu_threshold: t });
    }
    return { stack: { dtype: 'uint8', shape: [n, h, w], data: mask }, measurements };
  },
});
