/**
 * Tiled Gaussian blur of one large image (or a stack, per plane) across the pool, bit-identical to
 * `gaussianBlur` of `processing/gaussian.ts` (scipy.ndimage.gaussian_filter semantics): each tile gets a
 * halo of one kernel radius, so the reflect boundary only ever applies at the true image edges (see
 * `workers/gaussian.ts` for why that is exact, and `tiles.ts` for the layout).
 */
import { gaussianRadius } from '../processing/gaussian.js';
import { ChunkPlanError } from './errors.js';
import { Orchestrator } from './orchestrator.js';
import type { ChunkedOptions } from './reduce.js';
import { SharedArray } from './shared-array.js';
import { tilePlan, type Tile } from './tiles.js';
import type { GaussianParams } from './workers/gaussian.js';

export const GAUSSIAN_WORKER = new URL('./workers/gaussian.js', import.meta.url);

export interface TiledGaussianOptions extends Omit<ChunkedOptions, 'chunkElements'> {
  readonly sigma: number;
  /** Kernel radius = int(truncate · sigma + 0.5). @default 4 */
  readonly truncate?: number;
  /** Rows per tile. @default 256 */
  readonly tileRows?: number;
  /** Columns per tile. @default the whole width (row bands: contiguous reads, least halo work) */
  readonly tileCols?: number;
  /** Write here (float32, same shape) instead of a new array. */
  readonly out?: SharedArray<'float32'>;
}

/**
 * The tile plan `tiledGaussian` uses: per plane, tiles of `tileRows × tileCols` with a halo of the
 * kernel radius on rows and columns (never across planes).
 */
export function gaussianTiles(shape: readonly number[], sigma: number, truncate = 4, tileRows = 256, tileCols?: number): Tile[] {
  if (shape.length !== 2 && shape.length !== 3) throw new ChunkPlanError(`tiled Gaussian needs a 2-D or 3-D array, got shape ${JSON.stringify(shape)}`);
  if (!(Number.isFinite(sigma) && sigma > 0) || !(Number.isFinite(truncate) && truncate > 0)) {
    throw new ChunkPlanError(`sigma and truncate must be finite and > 0, got sigma=${sigma}, truncate=${truncate}`);
  }
  const r = gaussianRadius(sigma, truncate);
  const w = shape[shape.length - 1]!;
  const tile2 = [tileRows, tileCols ?? Math.max(w, 1)];
  return shape.length === 2 ? tilePlan(shape, tile2, [r, r]) : tilePlan(shape, [1, ...tile2], [0, r, r]);
}

/**
 * Blurs `src` (any dtype, read as float32) into a float32 array of the same shape.
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a bad shape, sigma, truncate or tile size; errors of `Orchestrator.run`
 */
export async function tiledGaussian(src: SharedArray, options: TiledGaussianOptions): Promise<SharedArray<'float32'>> {
  const truncate = options.truncate ?? 4;
  const tiles = gaussianTiles(src.shape, options.sigma, truncate, options.tileRows ?? 256, options.tileCols);
  const out = options.out ?? SharedArray.create('float32', src.shape);
  if (out.dtype !== 'float32' || out.size !== src.size || out.ndim !== src.ndim || out.shape.some((n, k) => n !== src.shape[k])) {
    throw new ChunkPlanError(`output must be float32 of shape ${JSON.stringify(src.shape)}`);
  }
  if (out.overlaps(src)) throw new ChunkPlanError('tiledGaussian cannot write into its input buffer (tiles read their neighbours\' rows)');
  const orch = new Orchestrator<Tile, GaussianParams, null>({
    pool: options.pool,
    array: src,
    worker: GAUSSIAN_WORKER,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
  await orch.run(tiles, { out: out.handle(), sigma: options.sigma, truncate }, options);
  return out;
}
