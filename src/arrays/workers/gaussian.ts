/**
 * Chunk worker: the Gaussian blur of one tile of a 2-D image [h, w] or a stack [n, h, w] (per plane),
 * written into a shared float32 array of the same shape.
 *
 * Exactness: the tile's outer box (core + halo ≥ radius on rows and columns, clipped at the image
 * edges) is blurred as one small plane by `blurPlane`, the very function the untiled `gaussianBlur`
 * runs per plane (same kernel, weights and summation order, WASM or JS as in that thread); then only
 * the core is copied out. Inside the block, every row/column a core pixel reads is either a real
 * neighbour (the halo holds them all) or lies past a block edge that is also the image edge, where
 * the block's 'reflect' gives the same index as the image's: the block is then at least radius + 1
 * long on that axis (or the whole axis), so the reflection never wraps differently. Hence each core
 * pixel is bit-identical to the untiled result; `test/arrays-tiled-filters.test.ts` and
 * `test/tiled-builtins.test.ts` check it.
 */
import { blurPlane, cachedHalfKernel } from '../../processing/gaussian.js';
import type { ChunkContext } from '../chunk-worker.js';
import { ChunkPlanError } from '../errors.js';
import { SharedArray, type SharedArrayHandle } from '../shared-array.js';
import type { Tile } from '../tiles.js';

export interface GaussianParams {
  readonly out: SharedArrayHandle<'float32'>;
  readonly sigma: number;
  readonly truncate: number;
}

export function processChunk(view: SharedArray, tile: Tile, params: GaussianParams, ctx: ChunkContext): null {
  const nd = view.ndim;
  if (nd !== 2 && nd !== 3) throw new ChunkPlanError(`gaussian tiles need a 2-D or 3-D array, got shape ${JSON.stringify(view.shape)}`);
  const kernel = cachedHalfKernel(params.sigma, params.truncate);
  const r = kernel.length - 1;
  const h = view.shape[nd - 2]!;
  const w = view.shape[nd - 1]!;
  const rows = tile.core[nd - 2]!;
  const cols = tile.core[nd - 1]!;
  const orows = tile.outer[nd - 2]!;
  const ocols = tile.outer[nd - 1]!;
  if (orows.start > Math.max(0, rows.start - r) || orows.end < Math.min(h, rows.end + r) || ocols.start > Math.max(0, cols.start - r) || ocols.end < Math.min(w, cols.end + r)) {
    throw new ChunkPlanError(`tile ${tile.index}: halo is smaller than the kernel radius ${r}`, { tile: tile.index });
  }
  const planes = nd === 3 ? tile.core[0]! : { start: 0, end: 1 };
  const bh = orows.end - orows.start;
  const bw = ocols.end - ocols.start;
  const out = SharedArray.fromHandle(params.out).data;
  const src = view.data;
  const planeSize = h * w;
  for (let p = planes.start; p < planes.end; p++) {
    ctx.throwIfCancelled();
    const base = p * planeSize;
    blurPlane(
      bh,
      bw,
      kernel,
      // Assigning into a Float32Array rounds exactly as gaussianBlur's own astype(float32) does.
      (block) => {
        for (let y = 0; y < bh; y++) {
          const from = base + (orows.start + y) * w + ocols.start;
          block.set(src.subarray(from, from + bw), y * bw);
        }
      },
      (result) => {
        for (let y = rows.start; y < rows.end; y++) {
          const from = (y - orows.start) * bw - ocols.start;
          out.set(result.subarray(from + cols.start, from + cols.end), base + y * w + cols.start);
        }
      },
    );
  }
  return null;
}
