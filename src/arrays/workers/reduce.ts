/**
 * Chunk worker: stats (count, NaN count, min, max, sum) and an optional histogram of one flat range.
 * The histogram spec comes from the chunk if it has one (per-plane bounds, as Otsu needs), else from
 * params. Loaded by path in worker threads; see `reduce.ts` for the caller.
 */
import type { Range } from '../chunks.js';
import type { ChunkContext } from '../chunk-worker.js';
import type { SharedArray } from '../shared-array.js';
import { rangeStats, type ArrayStats, type HistogramSpec } from '../stats.js';

export interface ReduceChunk extends Range {
  readonly histogram?: HistogramSpec;
}

export interface ReduceParams {
  readonly histogram?: HistogramSpec;
}

export function processChunk(view: SharedArray, chunk: ReduceChunk, params: ReduceParams, ctx: ChunkContext): ArrayStats {
  ctx.throwIfCancelled();
  return rangeStats(view.data, chunk.start, chunk.end, chunk.histogram ?? params.histogram);
}
