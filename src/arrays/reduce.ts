/**
 * Whole-array reductions run chunk-parallel: stats (count, NaN count, min, max, sum) and histograms.
 */
import { chunkRanges } from './chunks.js';
import type { ArrayDType } from './dtype.js';
import { Orchestrator, type OrchestratorRunOptions } from './orchestrator.js';
import type { ChunkPool } from './pool.js';
import type { SharedArray } from './shared-array.js';
import { checkHistogramSpec, combineStats, histogramBins, type ArrayStats, type HistogramSpec } from './stats.js';
import type { ReduceChunk, ReduceParams } from './workers/reduce.js';

export const REDUCE_WORKER = new URL('./workers/reduce.js', import.meta.url);

/** Options shared by the chunk-parallel operations of this folder. */
export interface ChunkedOptions extends OrchestratorRunOptions {
  readonly pool: ChunkPool;
  /** Elements per chunk for flat (1-D) plans. @default 4 Mi elements, at least 1 */
  readonly chunkElements?: number;
  /** See `OrchestratorOptions.concurrency`. */
  readonly concurrency?: number;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 22;

export function reduceOrchestrator(pool: ChunkPool, array: SharedArray, concurrency?: number): Orchestrator<ReduceChunk, ReduceParams, ArrayStats> {
  return new Orchestrator<ReduceChunk, ReduceParams, ArrayStats>({ pool, array, worker: REDUCE_WORKER, ...(concurrency !== undefined ? { concurrency } : {}) });
}

/**
 * Stats of the whole array, plus a histogram if asked, computed chunk by chunk in the pool and
 * combined in chunk order (so a float sum depends on `chunkElements`, never on the thread count).
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a bad histogram spec or chunk size; errors of `Orchestrator.run`
 */
export async function reduceArray<D extends ArrayDType>(
  array: SharedArray<D>,
  options: ChunkedOptions & { readonly histogram?: HistogramSpec },
): Promise<ArrayStats> {
  if (options.histogram !== undefined) checkHistogramSpec(options.histogram, array.dtype);
  const chunks = chunkRanges(array.size, options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS);
  const params: ReduceParams = options.histogram !== undefined ? { histogram: options.histogram } : {};
  const parts = await reduceOrchestrator(options.pool, array, options.concurrency).run(chunks, params, options);
  const stats = combineStats(parts);
  if (options.histogram !== undefined && stats.histogram === undefined) return { ...stats, histogram: new Float64Array(histogramBins(options.histogram)) };
  return stats;
}
