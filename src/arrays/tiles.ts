/**
 * N-D chunking: cut an array into boxes ("tiles") along one or more axes, each with an optional halo.
 *
 * A tile has a `core` (the elements it owns and writes) and an `outer` box (core grown by the halo on
 * each side, clipped to the array) that it may read. Cores partition the array: every element belongs
 * to exactly one core, so workers writing only their cores never race. Outers overlap, which is what a
 * filter of radius r needs to compute its core exactly: halo = r.
 *
 * Row bands of an image of 10 rows, 4 rows per tile, halo 2 (axis 0; columns whole). █ marks the rows
 * each tile reads; the cores (owned rows) are 0..3, 4..7 and 8..9:
 *
 *   row  image       core   reads: tile 0  tile 1  tile 2
 *     0  ┌────────┐   0            █
 *     1  │        │   0            █
 *     2  │        │   0            █       █
 *     3  │        │   0            █       █
 *     4  ├────────┤   1            █       █
 *     5  │        │   1            █       █
 *     6  │        │   1                    █       █
 *     7  │        │   1                    █       █
 *     8  ├────────┤   2                    █       █
 *     9  │        │   2                    █       █
 *        └────────┘        outer: [0,6)   [2,10)  [6,10)
 *
 * Tile 0's outer is clipped at row 0 and tile 2's at row 10: there the halo would leave the image,
 * and the true border is where the filter's own boundary rule (e.g. reflect) must apply.
 *
 * With several chunked axes the grid is walked in C order (last axis fastest), so tile `index` k is
 * the k-th box of the grid and results come back in that order.
 */
import { chunkRanges, type Range } from './chunks.js';
import { ChunkPlanError } from './errors.js';

export interface Tile {
  /** Position in the plan (C order over the tile grid). */
  readonly index: number;
  /** Per axis, the half-open range this tile owns. */
  readonly core: readonly Range[];
  /** Per axis, `core` grown by the halo and clipped to `[0, shape[axis])`. */
  readonly outer: readonly Range[];
}

function checkShape(shape: readonly number[]): void {
  for (const [axis, n] of shape.entries()) {
    if (!Number.isSafeInteger(n) || n < 0) throw new ChunkPlanError(`shape[${axis}] must be an integer ≥ 0, got ${String(n)}`);
  }
}

function perAxis(name: string, value: number | readonly number[], ndim: number, min: number): number[] {
  const list = typeof value === 'number' ? new Array<number>(ndim).fill(value) : [...value];
  if (list.length !== ndim) throw new ChunkPlanError(`${name} has ${list.length} entries for a ${ndim}-D array`);
  for (const [axis, v] of list.entries()) {
    if (!Number.isSafeInteger(v) || v < min) throw new ChunkPlanError(`${name}[${axis}] must be an integer ≥ ${min}, got ${String(v)}`);
  }
  return list;
}

/**
 * Tiles of `tileShape` (an entry ≥ the axis length means "whole axis") with `halo` elements of
 * overlap per side (one number for all axes, or one per axis; default 0).
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a tile size < 1, a negative halo, or a length mismatch
 */
export function tilePlan(shape: readonly number[], tileShape: readonly number[], halo: number | readonly number[] = 0): Tile[] {
  checkShape(shape);
  const ndim = shape.length;
  const sizes = perAxis('tileShape', tileShape, ndim, 1);
  const halos = perAxis('halo', halo, ndim, 0);
  const axes = shape.map((n, k) => chunkRanges(n, Math.min(sizes[k]!, Math.max(n, 1))));
  if (axes.some((ranges) => ranges.length === 0)) return [];
  const tiles: Tile[] = [];
  const at = new Array<number>(ndim).fill(0); // odometer over the grid, last axis fastest
  for (;;) {
    const core = at.map((i, k) => axes[k]![i]!);
    const outer = core.map((r, k) => Object.freeze({ start: Math.max(0, r.start - halos[k]!), end: Math.min(shape[k]!, r.end + halos[k]!) }));
    tiles.push(Object.freeze({ index: tiles.length, core: Object.freeze(core), outer: Object.freeze(outer) }));
    let k = ndim - 1;
    while (k >= 0 && ++at[k]! === axes[k]!.length) at[k--] = 0;
    if (k < 0) return tiles;
  }
}

/**
 * Chunks along one axis (rows of an image, planes of a stack …), every other axis whole.
 * `axisChunks([10, 512], 0, 4, 2)` is the row-band plan drawn above.
 */
export function axisChunks(shape: readonly number[], axis: number, chunkSize: number, halo = 0): Tile[] {
  checkShape(shape);
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new ChunkPlanError(`axis must be an integer in [0, ${shape.length}), got ${String(axis)}`);
  }
  const tileShape = shape.map((n, k) => (k === axis ? chunkSize : Math.max(n, 1)));
  const halos = shape.map((_, k) => (k === axis ? halo : 0));
  return tilePlan(shape, tileShape, halos);
}

/** Number of elements in a box. */
export function boxSize(box: readonly Range[]): number {
  let n = 1;
  for (const r of box) n *= r.end - r.start;
  return n;
}

/**
 * The flat C-order range of a box, when the box is one contiguous run of memory (axes after some axis
 * k whole, axes before it one index wide — e.g. a band of rows, or of planes); `undefined` otherwise.
 * Lets a flat-range worker (reductions, maps) run over an axis plan: `axisChunks(shape, 0, n)`.
 */
export function contiguousRange(shape: readonly number[], box: readonly Range[]): Range | undefined {
  if (box.length !== shape.length) throw new ChunkPlanError(`box has ${box.length} axes for a ${shape.length}-D array`);
  let k = shape.length - 1;
  while (k >= 0 && box[k]!.start === 0 && box[k]!.end === shape[k]) k--;
  for (let j = 0; j < k; j++) if (box[j]!.end - box[j]!.start !== 1) return undefined;
  let start = 0;
  let stride = 1;
  for (let j = shape.length - 1; j >= 0; j--) {
    start += box[j]!.start * stride;
    stride *= shape[j]!;
  }
  return { start, end: start + boxSize(box) };
}
