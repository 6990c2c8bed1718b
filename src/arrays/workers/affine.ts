/**
 * Chunk worker (a map): `out[i] = view[i] * scale + offset` over one flat range. `out` may be the
 * view's own handle (in place); values are stored with the output dtype's conversion rules.
 */
import type { Range } from '../chunks.js';
import type { ChunkContext } from '../chunk-worker.js';
import { SharedArray, type SharedArrayHandle } from '../shared-array.js';

export interface AffineParams {
  readonly out: SharedArrayHandle;
  readonly scale: number;
  readonly offset: number;
}

export function processChunk(view: SharedArray, chunk: Range, params: AffineParams, ctx: ChunkContext): null {
  ctx.throwIfCancelled();
  const out = SharedArray.fromHandle(params.out).data;
  const src = view.data;
  const { scale, offset } = params;
  for (let i = chunk.start; i < chunk.end; i++) out[i] = src[i]! * scale + offset;
  return null;
}
