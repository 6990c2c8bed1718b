/**
 * Element-wise maps run chunk-parallel. One for now: affine `out = src · scale + offset`.
 */
import { chunkRanges } from './chunks.js';
import { ChunkPlanError } from './errors.js';
import { Orchestrator } from './orchestrator.js';
import { DEFAULT_CHUNK_ELEMENTS, type ChunkedOptions } from './reduce.js';
import type { SharedArray } from './shared-array.js';
import type { AffineParams } from './workers/affine.js';
import type { Range } from './chunks.js';

export const AFFINE_WORKER = new URL('./workers/affine.js', import.meta.url);

/**
 * `out[i] = src[i] · scale + offset` for every element; `out` may be `src` (in place).
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) if the arrays differ in size; errors of `Orchestrator.run`
 */
export async function mapAffine(
  src: SharedArray,
  out: SharedArray,
  options: ChunkedOptions & { readonly scale: number; readonly offset: number },
): Promise<void> {
  if (out.size !== src.size) throw new ChunkPlanError(`output has ${out.size} elements, input ${src.size}`);
  const orch = new Orchestrator<Range, AffineParams, null>({
    pool: options.pool,
    array: src,
    worker: AFFINE_WORKER,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
  const chunks = chunkRanges(src.size, options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS);
  await orch.run(chunks, { out: out.handle(), scale: options.scale, offset: options.offset }, options);
}
