/**
 * Chunk worker: the Gaussian blur of one tile of a 2-D image [h, w] or a stack [n, h, w] (per plane),
 * written into a shared float32 array of the same shape.
 *
 * Exactness: the tile's outer box (core + halo ≥ radius on rows and columns, clipped at the image
 * edges) is copied into a small float32 block and blurred by `gaussianPlaneJs`, the very function the
 * untiled `gaussianBlur` runs, with the same weights and summation order; then only the core is copied
 * out (or by the WASM `gaussian2d` kernel when it is built: `processing/` guarantees the two give
 * the same bits, and the test compares against whichever `gaussianBlur` uses). Inside the block, every row/column a core pixel reads is either a real neighbour (the halo
 * holds them all) or lies past a block edge that is also the image edge, where the block's 'reflect'
 * gives the same index as the image's: the block is then at least radius + 1 long on that axis (or
 * the whole axis), so the reflection never wraps differently. Hence each core pixel is bit-identical
 * to the untiled result; `test/arrays-tiled-filters.test.ts` checks it.
 */
import { gaussianHalfKernel, gaussianPlaneJs } from '../../processing/gaussian.js';
import { wasmKernels, wasmRegions } from '../../processing/wasm.js';
import type { ChunkContext } from '../chunk-worker.js';
import { ChunkPlanError } from '../errors.js';
import { SharedArray, type SharedArrayHandle } from '../shared-array.js';
import type { Tile } from '../tiles.js';

export interface GaussianParams {
  readonly out: SharedArrayHandle<'float32'>;
  readonly sigma: number;
  readonly truncate: number;
}

// Per-thread caches: the kernel for the last (sigma, truncate), and scratch blocks grown on demand,
// so a worker allocates once per run instead of once per tile.
let kernelKey = '';
let kernel: Float64Array = new Float64Array(1);
let scratch = { block: new Float32Array(0), out: new Float32Array(0), tmp: new Float32Array(0), line: new Float64Array(0) };

function scratchFor(n: number, lineLength: number): typeof scratch {
  if (scratch.block.length < n) scratch = { ...scratch, block: new Float32Array(n), out: new Float32Array(n), tmp: new Float32Array(n) };
  if (scratch.line.length < lineLength) scratch = { ...scratch, line: new Float64Array(lineLength) };
  return scratch;
}

export function processChunk(view: SharedArray, tile: Tile, params: GaussianParams, ctx: ChunkContext): null {
  const nd = view.ndim;
  if (nd !== 2 && nd !== 3) throw new ChunkPlanError(`gaussian tiles need a 2-D or 3-D array, got shape ${JSON.stringify(view.shape)}`);
  const key = `${params.sigma}/${params.truncate}`;
  if (key !== kernelKey) {
    kernel = gaussianHalfKernel(params.sigma, params.truncate);
    kernelKey = key;
  }
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
  const n = bh * bw;
  const out = SharedArray.fromHandle(params.out).data;
  const src = view.data;
  const planeSize = h * w;
  const k = wasmKernels();
  // Regions are re-derived per tile: offsets stay valid only until the next wasmRegions call. They are
  // null when the tile would not fit the kernel memory; then the JS kernel (same bits) runs instead.
  const regions = k ? wasmRegions(k, [4 * n, 4 * n, 8 * (r + 1), 8 * (bw + 2 * r) + 8 * r]) : null;
  let block: Float32Array;
  let result: Float32Array;
  let blur: () => void;
  if (k && regions) {
    const [at, tmpAt, wts, scr] = regions as [number, number, number, number];
    new Float64Array(k.memory.buffer, wts, r + 1).set(kernel);
    block = result = new Float32Array(k.memory.buffer, at, n);
    blur = () => k.gaussian2d(at, tmpAt, at, bh, bw, wts, r, scr); // in place, as gaussianBlur calls it
  } else {
    const s = scratchFor(n, bw + 2 * r);
    block = s.block.subarray(0, n);
    result = s.out;
    blur = () => gaussianPlaneJs(block, bh, bw, kernel, s.out, s.tmp, s.line);
  }
  for (let p = planes.start; p < planes.end; p++) {
    ctx.throwIfCancelled();
    const base = p * planeSize;
    // Assigning into a Float32Array rounds exactly as gaussianBlur's own astype(float32) does.
    for (let y = 0; y < bh; y++) {
      const from = base + (orows.start + y) * w + ocols.start;
      for (let x = 0; x < bw; x++) block[y * bw + x] = src[from + x]!;
    }
    blur();
    for (let y = rows.start; y < rows.end; y++) {
      const to = base + y * w;
      const from = (y - orows.start) * bw - ocols.start;
      for (let x = cols.start; x < cols.end; x++) out[to + x] = result[from + x]!;
    }
  }
  return null;
}
