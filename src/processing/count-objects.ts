import { z } from 'zod';
import type { ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { labelPlane, type Connectivity } from './label.js';
import { scratchU32 } from './scratch.js';
import { wasmKernels, wasmRegions } from './wasm.js';

/**
 * Objects of at least `minSize` pixels in one label plane (values ≤ 0 are background). Labels that do
 * not occur are not objects, so `minSize` 0 and 1 count the same: the number of distinct labels.
 */
export function countLabels(labels: Uint32Array | Int32Array, minSize: number): number {
  const n = labels.length;
  const threshold = Math.max(1, minSize);
  const fast = labels instanceof Uint32Array ? countLabelsWasm(labels, threshold) : null;
  if (fast !== null) return fast;
  // Labels from `label` are at most ⌈n/2⌉, so one histogram pass with a bounds check covers them;
  // larger ids (label images from other tools) go to a map.
  const cap = n + 1;
  const sizes = scratchU32('count.sizes', cap).fill(0);
  let sparse: Map<number, number> | null = null;
  let max = 0;
  if (labels instanceof Uint32Array) max = histogramU32(labels, sizes, cap);
  else max = histogramI32(labels, sizes, cap);
  if (max < 0) {
    sparse = new Map();
    for (let i = 0; i < n; i++) {
      const l = labels[i]!;
      if (l >= cap) sparse.set(l, (sparse.get(l) ?? 0) + 1);
    }
    max = cap - 1;
  }
  let count = 0;
  for (let l = 1; l <= max; l++) if (sizes[l]! >= threshold) count++;
  if (sparse) for (const s of sparse.values()) if (s >= threshold) count++;
  return count;
}

/** `countLabels` for uint32 labels in the WASM kernels; null when unavailable or a label is too large for its table. */
function countLabelsWasm(labels: Uint32Array, threshold: number): number | null {
  const k = wasmKernels();
  if (!k) return null;
  const n = labels.length;
  const cap = n + 1;
  const regions = wasmRegions(k, [4 * n, 4 * cap]);
  if (!regions) return null;
  const [labelsAt, sizesAt] = regions as [number, number];
  new Uint32Array(k.memory.buffer, labelsAt, n).set(labels);
  const max = k.labelSizesU32(labelsAt, n, sizesAt, cap);
  if (max < 0) return null;
  const sizes = new Uint32Array(k.memory.buffer, sizesAt, max + 1);
  let count = 0;
  for (let l = 1; l <= max; l++) if (sizes[l]! >= threshold) count++;
  return count;
}

/** sizes[l]++ for every label 0 < l < cap; returns the largest such label, or -1 if some were ≥ cap. */
function histogramU32(labels: Uint32Array, sizes: Uint32Array, cap: number): number {
  let max = 0;
  let over = false;
  for (let i = 0, n = labels.length; i < n; i++) {
    const l = labels[i]!;
    // Background is most pixels: skipping it avoids a chain of increments to one counter.
    if (l === 0) continue;
    if (l < cap) {
      sizes[l]++;
      if (l > max) max = l;
    } else over = true;
  }
  return over ? -1 : max;
}

function histogramI32(labels: Int32Array, sizes: Uint32Array, cap: number): number {
  let max = 0;
  let over = false;
  for (let i = 0, n = labels.length; i < n; i++) {
    const l = labels[i]!;
    if (l <= 0) continue;
    if (l < cap) {
      sizes[l]++;
      if (l > max) max = l;
    } else over = true;
  }
  return over ? -1 : max;
}

export const countObjectsKwargs = z.strictObject({
  min_size: z.int().min(0).default(0),
  connectivity: z.literal([4, 8]).default(4),
});

export const countObjectsFunction = defineFunction({
  name: 'count_objects',
  description:
    'Counts objects of at least `min_size` pixels per plane: uint32/int32 input is a label image (used as is); uint8/uint16 input is a mask (nonzero = foreground), labelled first with `connectivity`. Passes the input through; measurement `object_count`.',
  kwargs: countObjectsKwargs,
  run: (stack: ImageStack, kw, ctx) => {
    const [n, h, w] = stack.shape;
    const size = h * w;
    const measurements: Record<string, number>[] = [];
    const isLabels = stack.dtype === 'uint32' || stack.dtype === 'int32';
    if (!isLabels && stack.dtype !== 'uint8' && stack.dtype !== 'uint16') {
      throw new TypeError(
        `count_objects expects a label image (uint32/int32) or a mask (uint8/uint16), got ${stack.dtype}; threshold it first (e.g. otsu_threshold)`,
      );
    }
    const labels = isLabels ? null : new Uint32Array(size);
    for (let p = 0; p < n; p++) {
      checkAborted(ctx);
      const plane = stack.data.subarray(p * size, (p + 1) * size) as PixelArray;
      let lab: Uint32Array | Int32Array;
      if (labels) {
        labelPlane(plane, h, w, kw.connectivity as Connectivity, labels);
        lab = labels;
      } else lab = plane as Uint32Array | Int32Array;
      measurements.push({ object_count: countLabels(lab, kw.min_size) });
    }
    return { stack, measurements };
  },
});
