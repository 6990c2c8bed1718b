/**
 * The 1-D chunk plan (MPAIO's `DataIterator`): cut `[startIdx, size)` into half-open ranges of
 * `chunkSize`, the last one shorter if need be.
 *
 *   size 10, chunk 3:            [0,3) [3,6) [6,9) [9,10)
 *   size 12, chunk 4, start 2:       [2,6) [6,10) [10,12)
 *
 * Every argument is checked, because MPAIO's iterator loops forever on a chunk size of 0 and a
 * fractional size would produce ranges that do not tile the array.
 */
import { ChunkPlanError } from './errors.js';

/** A half-open range `[start, end)` of indices. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/**
 * @param size       number of indices (elements, rows, planes …), an integer ≥ 0
 * @param chunkSize  indices per chunk, an integer ≥ 1
 * @param startIdx   first index, an integer in `[0, size]` (default 0); `size` itself gives no ranges,
 *                   so an empty array with the default start is a valid, empty plan
 * @returns the ranges in increasing order; they cover `[startIdx, size)` exactly once
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a non-integer or out-of-range argument
 */
export function chunkRanges(size: number, chunkSize: number, startIdx = 0): Range[] {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ChunkPlanError(`size must be an integer ≥ 0, got ${String(size)}`, { size });
  }
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new ChunkPlanError(`chunkSize must be an integer ≥ 1, got ${String(chunkSize)}`, { chunkSize });
  }
  if (!Number.isSafeInteger(startIdx) || startIdx < 0 || startIdx > size) {
    throw new ChunkPlanError(`startIdx must be an integer in [0, ${size}], got ${String(startIdx)}`, { startIdx, size });
  }
  const out: Range[] = [];
  for (let start = startIdx; start < size; start += chunkSize) {
    out.push(Object.freeze({ start, end: Math.min(start + chunkSize, size) }));
  }
  return out;
}
