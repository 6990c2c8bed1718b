/**
 * Reductions over a range of a typed array (what one chunk computes) and how chunk results combine.
 *
 * Counts, min and max combine exactly in any order. Sums are float64: for integer data they are exact
 * while below 2^53; for float data each chunk sums left to right and the chunk sums are added in chunk
 * order, so the result depends on the chunk plan but never on the number of workers or on timing.
 */
import { isIntegerDType, type AnyTypedArray, type ArrayDType } from './dtype.js';
import { ChunkPlanError } from './errors.js';
import { numpyF32Edges, numpyF32Histogram } from './numpy-histogram.js';

/**
 * - `uniform`: `bins` equal bins over `[lo, hi]`, bin ⌊(x − lo) · bins / (hi − lo)⌋ in float64, the last
 *   bin closed (x = hi counts); values outside `[lo, hi]` and NaN are not counted.
 * - `integer`: one bin per integer `lo..hi` (integer data); values outside are not counted.
 * - `numpy-float32`: `numpy.histogram(a, bins)` for float32 data whose range is exactly `[min, max]`
 *   (the arithmetic of `otsuThreshold` in `processing/otsu.ts`, see `numpy-histogram.ts`), so Otsu from
 *   chunk counts matches Otsu on the whole image.
 */
export type HistogramSpec =
  | { readonly kind: 'uniform'; readonly bins: number; readonly lo: number; readonly hi: number }
  | { readonly kind: 'integer'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'numpy-float32'; readonly bins: number; readonly min: number; readonly max: number };

export interface ArrayStats {
  /** Elements that are not NaN. */
  readonly count: number;
  readonly nanCount: number;
  /** Smallest non-NaN value; +Infinity when there is none. */
  readonly min: number;
  /** Largest non-NaN value; −Infinity when there is none. */
  readonly max: number;
  /** Sum of the non-NaN values, float64. */
  readonly sum: number;
  /** Present when a histogram was asked for. */
  readonly histogram?: Float64Array;
}

/** Largest integer histogram accepted (one Float64 per bin: 512 MiB). */
export const MAX_INTEGER_BINS = 1 << 26;

export function histogramBins(spec: HistogramSpec): number {
  switch (spec.kind) {
    case 'uniform':
    case 'numpy-float32':
      return spec.bins;
    case 'integer':
      return spec.hi - spec.lo + 1;
  }
}

/** @throws ChunkPlanError (`E_CHUNK_INVALID`) for a histogram that cannot be computed (on data of `dtype`, if given) */
export function checkHistogramSpec(spec: HistogramSpec, dtype?: ArrayDType): void {
  const bad = (why: string): never => {
    throw new ChunkPlanError(`histogram ${JSON.stringify(spec)}: ${why}`);
  };
  if (spec.kind !== 'integer' && spec.kind !== 'uniform' && spec.kind !== 'numpy-float32') bad('unknown kind');
  if (dtype !== undefined && spec.kind === 'integer' && !isIntegerDType(dtype)) bad(`needs integer data, not ${dtype}`);
  if (dtype !== undefined && spec.kind === 'numpy-float32' && dtype !== 'float32') bad(`needs float32 data, not ${dtype}`);
  if (spec.kind === 'integer') {
    if (!Number.isSafeInteger(spec.lo) || !Number.isSafeInteger(spec.hi) || spec.hi < spec.lo) bad('needs integers lo ≤ hi');
    if (spec.hi - spec.lo + 1 > MAX_INTEGER_BINS) bad(`more than ${MAX_INTEGER_BINS} bins`);
    return;
  }
  if (!Number.isSafeInteger(spec.bins) || spec.bins < 1 || spec.bins > MAX_INTEGER_BINS) bad(`bins must be an integer in [1, ${MAX_INTEGER_BINS}]`);
  const [lo, hi] = spec.kind === 'uniform' ? [spec.lo, spec.hi] : [spec.min, spec.max];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) bad('needs finite bounds with lo < hi');
}

function histogramOf(data: AnyTypedArray, start: number, end: number, spec: HistogramSpec): Float64Array {
  if (spec.kind === 'numpy-float32') {
    if (!(data instanceof Float32Array)) throw new ChunkPlanError('a numpy-float32 histogram needs float32 data');
    return numpyF32Histogram(data, start, end, spec.min, spec.max, numpyF32Edges(spec.min, spec.max, spec.bins));
  }
  const counts = new Float64Array(histogramBins(spec));
  if (spec.kind === 'integer') {
    if (data instanceof Float32Array || data instanceof Float64Array) throw new ChunkPlanError('an integer histogram needs integer data');
    const { lo, hi } = spec;
    for (let i = start; i < end; i++) {
      const v = data[i]!;
      if (v >= lo && v <= hi) counts[v - lo]++;
    }
    return counts;
  }
  return uniformStats(data, start, end, spec).histogram!;
}

/**
 * Scalars and a uniform histogram in one pass (the bench's reduction: one read of memory, not two).
 * `| 0` truncates like ⌊⌋ here because (v − lo)·scale is in [0, bins] and bins ≤ 2^26.
 */
function uniformStats(data: AnyTypedArray, start: number, end: number, spec: Extract<HistogramSpec, { kind: 'uniform' }>): ArrayStats {
  const { bins, lo, hi } = spec;
  const counts = new Float64Array(bins);
  const scale = bins / (hi - lo);
  const last = bins - 1;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let nanCount = 0;
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    if (v !== v) {
      nanCount++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v >= lo && v <= hi) {
      const b = ((v - lo) * scale) | 0;
      counts[b > last ? last : b]++;
    }
  }
  return { count: end - start - nanCount, nanCount, min, max, sum, histogram: counts };
}

/** Stats (and optionally a histogram) of `data[start, end)`. */
export function rangeStats(data: AnyTypedArray, start: number, end: number, histogram?: HistogramSpec): ArrayStats {
  if (histogram?.kind === 'uniform') return uniformStats(data, start, end, histogram);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let nanCount = 0;
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    if (v !== v) {
      nanCount++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const count = end - start - nanCount;
  return histogram === undefined ? { count, nanCount, min, max, sum } : { count, nanCount, min, max, sum, histogram: histogramOf(data, start, end, histogram) };
}

/** Combines chunk stats, in the order given (pass chunk order for a reproducible float sum). */
export function combineStats(parts: readonly ArrayStats[]): ArrayStats {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let count = 0;
  let nanCount = 0;
  let histogram: Float64Array | undefined;
  for (const p of parts) {
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
    sum += p.sum;
    count += p.count;
    nanCount += p.nanCount;
    if (p.histogram !== undefined) {
      if (histogram === undefined) histogram = new Float64Array(p.histogram.length);
      else if (histogram.length !== p.histogram.length) throw new ChunkPlanError('cannot combine histograms with different bin counts');
      for (let b = 0; b < histogram.length; b++) histogram[b] += p.histogram[b]!;
    }
  }
  return histogram === undefined ? { count, nanCount, min, max, sum } : { count, nanCount, min, max, sum, histogram };
}
