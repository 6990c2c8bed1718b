/**
 * Chunk worker: `mask[i] = view[i] > threshold ? 1 : 0` over one flat range, written into a shared
 * uint8 array of the same size. The threshold rides on the chunk so each plane can have its own.
 */
import type { Range } from '../chunks.js';
import type { ChunkContext } from '../chunk-worker.js';
import { SharedArray, type SharedArrayHandle } from '../shared-array.js';

export interface ThresholdChunk extends Range {
  readonly threshold: number;
}

export interface ThresholdParams {
  readonly mask: SharedArrayHandle<'uint8'>;
}

export function processChunk(view: SharedArray, chunk: ThresholdChunk, params: ThresholdParams, ctx: ChunkContext): null {
  ctx.throwIfCancelled();
  const mask = SharedArray.fromHandle(params.mask).data;
  const src = view.data;
  const t = chunk.threshold;
  for (let i = chunk.start; i < chunk.end; i++) mask[i] = src[i]! > t ? 1 : 0;
  return null;
}
