import { z } from 'zod';
import type { ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { labelPlane, maxProvisionalLabels, type Connectivity } from './label.js';

/**
 * Objects of at least `minSize` pixels in one label plane (values ≤ 0 are background). Labels that do
 * not occur are not objects, so `minSize` 0 and 1 count the same: the number of distinct labels.
 */
export function countLabels(labels: Uint32Array | Int32Array, minSize: number, scratch?: Uint32Array): number {
  const n = labels.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (labels[i]! > max) max = labels[i]!;
  if (max === 0) return 0;
  const threshold = Math.max(1, minSize);
  if (max <= 4 * n + 16) {
    const sizes = scratch && scratch.length > max ? scratch.fill(0, 0, max + 1) : new Uint32Array(max + 1);
    for (let i = 0; i < n; i++) {
      const l = labels[i]!;
      if (l > 0) sizes[l]++;
    }
    let count = 0;
    for (let l = 1; l <= max; l++) if (sizes[l]! >= threshold) count++;
    return count;
  }
  // Sparse label ids (e.g. from another tool): count in a map instead of a huge array.
  const sizes = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (l > 0) sizes.set(l, (sizes.get(l) ?? 0) + 1);
  }
  let count = 0;
  for (const s of sizes.values()) if (s >= threshold) count++;
  return count;
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
    const parent = isLabels ? undefined : new Uint32Array(maxProvisionalLabels(h, w));
    const sizes = new Uint32Array(size + 1);
    for (let p = 0; p < n; p++) {
      checkAborted(ctx);
      const plane = stack.data.subarray(p * size, (p + 1) * size) as PixelArray;
      let lab: Uint32Array | Int32Array;
      if (labels) {
        labelPlane(plane, h, w, kw.connectivity as Connectivity, labels, parent);
        lab = labels;
      } else lab = plane as Uint32Array | Int32Array;
      measurements.push({ object_count: countLabels(lab, kw.min_size, sizes) });
    }
    return { stack, measurements };
  },
});
