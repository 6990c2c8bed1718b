import { z } from 'zod';
import type { ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';

export interface PlaneStats {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Population standard deviation (numpy's default, ddof = 0). */
  readonly std: number;
}

/** min, max, mean and population std of one plane, in float64 (two passes, so std does not cancel). */
export function planeStats(plane: PixelArray): PlaneStats {
  const n = plane.length;
  if (n === 0) return { min: NaN, max: NaN, mean: NaN, std: NaN };
  let min = plane[0]!;
  let max = min;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = plane[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = plane[i]! - mean;
    ss += d * d;
  }
  return { min, max, mean, std: Math.sqrt(ss / n) };
}

export const imageStatsFunction = defineFunction({
  name: 'image_stats',
  description: 'Passes the stack through; measurements `min`, `max`, `mean`, `std` (population) per plane.',
  kwargs: z.strictObject({}),
  run: (stack: ImageStack, _kw, ctx) => {
    const [n, h, w] = stack.shape;
    const size = h * w;
    const measurements: Record<string, number>[] = [];
    for (let p = 0; p < n; p++) {
      checkAborted(ctx);
      measurements.push({ ...planeStats(stack.data.subarray(p * size, (p + 1) * size) as PixelArray) });
    }
    return { stack, measurements };
  },
});
