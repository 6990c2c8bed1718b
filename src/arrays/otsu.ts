/**
 * Otsu threshold and mask of one large image (or a stack, per plane) across the pool, equal to
 * `otsuThreshold` of `processing/otsu.ts` (skimage semantics) and its `value > t` mask, byte for byte.
 *
 * Otsu is global, so it cannot be tiled like a filter; but its inputs are: a min/max pass, then a
 * histogram pass (per-element bin assignment does not depend on the chunk, and counts add exactly),
 * then `otsuFromHistogram` on the main thread, then a threshold map. Three chunk-parallel passes, each
 * over flat ranges that never straddle a plane (`chunkRanges(planeEnd, chunk, planeStart)`).
 */
import type { DType } from '../image.js';
import { otsuFromHistogram } from '../processing/otsu.js';
import { chunkRanges } from './chunks.js';
import { ChunkPlanError } from './errors.js';
import { numpyF32Centers, numpyF32Edges } from './numpy-histogram.js';
import { Orchestrator } from './orchestrator.js';
import { DEFAULT_CHUNK_ELEMENTS, reduceOrchestrator, type ChunkedOptions } from './reduce.js';
import { SharedArray } from './shared-array.js';
import { combineStats, MAX_INTEGER_BINS, type HistogramSpec } from './stats.js';
import type { ReduceChunk } from './workers/reduce.js';
import type { ThresholdChunk, ThresholdParams } from './workers/threshold.js';

export const THRESHOLD_WORKER = new URL('./workers/threshold.js', import.meta.url);

export interface TiledOtsuResult {
  /** One threshold per plane. */
  readonly thresholds: number[];
  /** 1 where value > threshold of its plane, else 0; same shape as the input. */
  readonly mask: SharedArray<'uint8'>;
}

/**
 * @param options.bins  histogram bins for float32 images (integer images use one bin per value). @default 256
 * @throws RangeError for an image with NaN, ±Infinity (unless constant) or an integer range wider than 2^26
 *   values, as `otsuThreshold` does
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a dtype Otsu does not handle or a shape that is not 2-D/3-D
 */
export async function tiledOtsu(src: SharedArray, options: ChunkedOptions & { readonly bins?: number }): Promise<TiledOtsuResult> {
  const dtype = src.dtype;
  if (dtype === 'float64') throw new ChunkPlanError('tiled Otsu handles integer and float32 arrays, got float64; convert it to float32 first');
  if (src.ndim !== 2 && src.ndim !== 3) throw new ChunkPlanError(`tiled Otsu needs a 2-D or 3-D array, got shape ${JSON.stringify(src.shape)}`);
  const bins = options.bins ?? 256;
  const nPlanes = src.ndim === 3 ? src.shape[0]! : 1;
  const planeSize = nPlanes === 0 ? 0 : src.size / nPlanes;
  if (planeSize === 0) throw new RangeError('otsu_threshold: empty image');
  const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  const perPlane: ReduceChunk[][] = [];
  for (let p = 0; p < nPlanes; p++) perPlane.push(chunkRanges((p + 1) * planeSize, chunkElements, p * planeSize));
  const reducer = reduceOrchestrator(options.pool, src, options.concurrency);

  // Pass 1: min/max per plane.
  const flat = perPlane.flat();
  const parts = await reducer.run(flat, {}, options);
  const byPlane = <T>(chunks: readonly ReduceChunk[], values: readonly T[]): T[][] => {
    const groups = perPlane.map((): T[] => []);
    values.forEach((v, i) => groups[Math.floor(chunks[i]!.start / planeSize)]!.push(v));
    return groups;
  };
  const planeStats = byPlane(flat, parts).map(combineStats);

  // Pass 2: histograms for the planes that are not constant, bounds on each chunk.
  const thresholds = new Array<number>(nPlanes);
  const histChunks: ReduceChunk[] = [];
  const specs: (HistogramSpec | undefined)[] = planeStats.map((s, p) => {
    if (s.nanCount > 0) throw new RangeError(`otsu_threshold: image contains NaN (plane ${p})`);
    if (s.min === s.max) {
      thresholds[p] = s.min;
      return undefined;
    }
    // numpy.histogram (and so otsuThreshold) refuses an infinite range.
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max)) throw new RangeError(`otsu_threshold: value range [${s.min}, ${s.max}] is not finite (plane ${p})`);
    if (dtype !== 'float32' && s.max - s.min + 1 > MAX_INTEGER_BINS) {
      throw new RangeError(`otsu_threshold: integer range ${s.min}..${s.max} is too wide for one bin per value`);
    }
    const spec: HistogramSpec = dtype === 'float32' ? { kind: 'numpy-float32', bins, min: s.min, max: s.max } : { kind: 'integer', lo: s.min, hi: s.max };
    for (const c of perPlane[p]!) histChunks.push({ start: c.start, end: c.end, histogram: spec });
    return spec;
  });
  const histParts = byPlane(histChunks, histChunks.length > 0 ? await reducer.run(histChunks, {}, options) : []);
  specs.forEach((spec, p) => {
    if (spec === undefined) return;
    const counts = combineStats(histParts[p]!).histogram!;
    thresholds[p] = otsuFromHistogram(counts, binCenters(spec, dtype));
  });

  // Pass 3: the mask.
  const mask = SharedArray.create('uint8', src.shape);
  const thresholdChunks: ThresholdChunk[] = perPlane.flatMap((cs, p) => cs.map((c) => ({ start: c.start, end: c.end, threshold: thresholds[p]! })));
  const orch = new Orchestrator<ThresholdChunk, ThresholdParams, null>({
    pool: options.pool,
    array: src,
    worker: THRESHOLD_WORKER,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
  await orch.run(thresholdChunks, { mask: mask.handle() }, options);
  return { thresholds, mask };
}

/** The bin centres `otsuThreshold` uses: integer values, or numpy's float32 centres. */
function binCenters(spec: HistogramSpec, dtype: DType): Float64Array {
  if (spec.kind === 'numpy-float32') return numpyF32Centers(numpyF32Edges(spec.min, spec.max, spec.bins));
  if (spec.kind !== 'integer' || dtype === 'float32') throw new ChunkPlanError(`no bin centres for ${spec.kind}`);
  const centers = new Float64Array(spec.hi - spec.lo + 1);
  for (let i = 0; i < centers.length; i++) centers[i] = spec.lo + i;
  return centers;
}
