import { z } from 'zod';
import type { ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';

export type Connectivity = 4 | 8;

/** Upper bound on provisional labels: a run of foreground in a row opens at most ⌈w/2⌉ new labels. */
export function maxProvisionalLabels(h: number, w: number): number {
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

/** Joins the sets of a and b; the smaller root wins, so a set's root is its first label in raster order. */
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
 * Connected components of the nonzero pixels of one plane (h×w, row-major), written to `out` as
 * 1..count in raster order of each component's first pixel — the numbering `scipy.ndimage.label` gives.
 * Two-pass union-find. `parent` must hold `maxProvisionalLabels(h, w)` entries (it is scratch).
 * Returns the number of components.
 */
export function labelPlane(
  mask: PixelArray,
  h: number,
  w: number,
  connectivity: Connectivity,
  out: Uint32Array,
  parent: Uint32Array = new Uint32Array(maxProvisionalLabels(h, w)),
): number {
  let next = 1;
  const eight = connectivity === 8;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const up = row - w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      if (mask[i] === 0) {
        out[i] = 0;
        continue;
      }
      const west = x > 0 ? out[i - 1]! : 0;
      let l = west;
      if (y > 0) {
        const n = out[up + x]!;
        if (n !== 0) {
          l = l === 0 || l === n ? n : union(parent, l, n);
        } else if (eight) {
          // With N in the background, NW and NE are not yet known to be in W's set. (When N is
          // foreground both already touch N, and NW also touches W.)
          if (west === 0 && x > 0) l = out[up + x - 1]!;
          if (x + 1 < w) {
            const ne = out[up + x + 1]!;
            if (ne !== 0) l = l === 0 || l === ne ? ne : union(parent, l, ne);
          }
        }
      }
      if (l === 0) {
        l = next++;
        parent[l] = l;
      }
      out[i] = l;
    }
  }
  // Final numbers. Every provisional label points at a smaller one (or itself, for a root), so in one
  // increasing sweep a root gets the next number and a member copies its parent's, which is already final.
  let count = 0;
  for (let l = 1; l < next; l++) {
    const p = parent[l]!;
    parent[l] = p === l ? ++count : parent[p]!;
  }
  const size = h * w;
  for (let i = 0; i < size; i++) {
    const l = out[i]!;
    if (l !== 0) out[i] = parent[l]!;
  }
  return count;
}

export const labelKwargs = z.strictObject({
  connectivity: z.literal([4, 8]).default(4),
});

/** Labels every plane of `stack` (nonzero = foreground); uint32 labels out, plus the count per plane. */
export function labelStack(stack: ImageStack, connectivity: Connectivity, signal?: AbortSignal): { stack: ImageStack<'uint32'>; counts: number[] } {
  const [n, h, w] = stack.shape;
  const size = h * w;
  const out = new Uint32Array(n * size);
  const parent = new Uint32Array(maxProvisionalLabels(h, w));
  const counts: number[] = [];
  for (let p = 0; p < n; p++) {
    signal?.throwIfAborted();
    const plane = stack.data.subarray(p * size, (p + 1) * size) as PixelArray;
    counts.push(labelPlane(plane, h, w, connectivity, out.subarray(p * size, (p + 1) * size), parent));
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
    const { stack: out, counts } = labelStack(stack, kw.connectivity, ctx.signal);
    return { stack: out, measurements: counts.map((c) => ({ label_count: c })) };
  },
});
