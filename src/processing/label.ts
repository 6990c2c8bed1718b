import { z } from 'zod';
import { allocate, type Allocate, type ImageStack, type PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { scratchU32 } from './scratch.js';
import { wasmKernels, wasmRegions } from './wasm.js';

export type Connectivity = 4 | 8;

/** Upper bound on foreground runs (and so on provisional labels): at most ⌈w/2⌉ runs per row. */
export function maxRuns(h: number, w: number): number {
  return h * ((w + 1) >> 1) + 1;
}

function findRoot(parent: Uint32Array, x: number): number {
  let r = x;
  while (parent[r]! !== r) r = parent[r]!;
  // Path compression keeps later finds O(1) amortised.
  while (parent[x]! !== r) {
    const next = parent[x]!;
    parent[x] = r;
    x = next;
  }
  return r;
}

/** Joins two sets; the smaller root wins, so a set's root is its first run in raster order. */
function union(parent: Uint32Array, a: number, b: number): number {
  const ra = findRoot(parent, a);
  const rb = findRoot(parent, b);
  if (ra === rb) return ra;
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/**
 * Run-length connected-component labelling. Each row is scanned for runs of nonzero pixels; a run
 * joins every run of the previous row it touches (overlapping columns for 4-connectivity, overlapping
 * or diagonally adjacent for 8). Runs are numbered in raster order, unions keep the smaller number, so
 * the final labels 1..count follow the raster order of each component's first pixel — the numbering
 * `scipy.ndimage.label` gives. Cost is one pass over the pixels plus work per run, not per pixel.
 */
function labelRuns(mask: PixelArray, h: number, w: number, eight: boolean, out: Uint32Array): number {
  const cap = maxRuns(h, w);
  const start = scratchU32('label.start', cap);
  const end = scratchU32('label.end', cap);
  const parent = scratchU32('label.parent', cap);
  const rowFirst = scratchU32('label.rowFirst', h + 1);
  const slack = eight ? 1 : 0;
  let runs = 1; // run ids start at 1 so that 0 can mean background
  let prevFirst = 1;
  let prevEnd = 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    rowFirst[y] = runs;
    let p = prevFirst; // first run of the previous row that may still touch
    let x = 0;
    while (x < w) {
      while (x < w && mask[row + x] === 0) x++;
      if (x === w) break;
      const s = x;
      while (x < w && mask[row + x] !== 0) x++;
      const id = runs++;
      start[id] = s;
      end[id] = x; // exclusive
      parent[id] = id;
      // Previous-row runs ending (exclusive) at or before s - slack cannot touch this or later runs.
      while (p < prevEnd && end[p]! + slack <= s) p++;
      let q = p;
      let label = 0;
      while (q < prevEnd && start[q]! < x + slack) {
        label = label === 0 ? findRoot(parent, q) : union(parent, label, q);
        q++;
      }
      if (label !== 0) parent[id] = label;
      // The last touching run may also touch the next run of this row: do not advance p past it.
      if (q > p) p = q - 1;
    }
    prevFirst = rowFirst[y]!;
    prevEnd = runs;
  }
  rowFirst[h] = runs;
  // Final numbers: every run points at a smaller id (or itself, for a root), so in one increasing
  // sweep a root takes the next number and any other run copies its parent's, already final.
  let count = 0;
  for (let id = 1; id < runs; id++) {
    const p = parent[id]!;
    parent[id] = p === id ? ++count : parent[p]!;
  }
  out.fill(0);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let id = rowFirst[y]!, last = rowFirst[y + 1]!; id < last; id++) {
      out.fill(parent[id]!, row + start[id]!, row + end[id]!);
    }
  }
  return count;
}

/**
 * Connected components of the nonzero pixels of one plane (h×w, row-major), written to `out` as
 * 1..count in raster order of each component's first pixel (scipy.ndimage.label's numbering).
 * Returns the number of components.
 */
export function labelPlane(mask: PixelArray, h: number, w: number, connectivity: Connectivity, out: Uint32Array): number {
  const eight = connectivity === 8;
  return (mask instanceof Uint8Array ? labelWasm(mask, h, w, eight, out) : null) ?? labelRuns(mask, h, w, eight, out);
}

/** `labelRuns` in the WASM kernels, for uint8 masks (what thresholding gives); null when unavailable. */
function labelWasm(mask: Uint8Array, h: number, w: number, eight: boolean, out: Uint32Array): number | null {
  const k = wasmKernels();
  if (!k) return null;
  const size = h * w;
  const cap = maxRuns(h, w);
  const regions = wasmRegions(k, [size, 4 * size, 4 * cap, 4 * cap, 4 * cap, 4 * (h + 1)]);
  if (!regions) return null;
  const [maskAt, outAt, startAt, endAt, parentAt, rowFirstAt] = regions as [number, number, number, number, number, number];
  new Uint8Array(k.memory.buffer, maskAt, size).set(mask.subarray(0, size));
  const count = k.labelU8(maskAt, h, w, eight ? 1 : 0, outAt, startAt, endAt, parentAt, rowFirstAt);
  out.set(new Uint32Array(k.memory.buffer, outAt, size));
  return count;
}

export const labelKwargs = z.strictObject({
  connectivity: z.literal([4, 8]).default(4),
});

/** Labels every plane of `stack` (nonzero = foreground); uint32 labels out, plus the count per plane. */
export function labelStack(stack: ImageStack, connectivity: Connectivity, signal?: AbortSignal, alloc: Allocate = allocate): { stack: ImageStack<'uint32'>; counts: number[] } {
  const [n, h, w] = stack.shape;
  const size = h * w;
  const out = alloc('uint32', n * size);
  const counts: number[] = [];
  for (let p = 0; p < n; p++) {
    signal?.throwIfAborted();
    const plane = stack.data.subarray(p * size, (p + 1) * size) as PixelArray;
    counts.push(labelPlane(plane, h, w, connectivity, out.subarray(p * size, (p + 1) * size)));
  }
  return { stack: { dtype: 'uint32', shape: [n, h, w], data: out }, counts };
}

export const labelFunction = defineFunction({
  name: 'label',
  description:
    'Per-plane connected components of nonzero pixels (4- or 8-connected): uint32 labels 1..n in raster order of first pixel (scipy.ndimage.label numbering); measurement `label_count`.',
  kwargs: labelKwargs,
  run: (stack, kw, ctx) => {
    checkAborted(ctx);
    const { stack: out, counts } = labelStack(stack, kw.connectivity, ctx.signal, ctx.allocate);
    return { stack: out, measurements: counts.map((c) => ({ label_count: c })) };
  },
});
