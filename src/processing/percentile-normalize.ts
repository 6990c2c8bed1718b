import { z } from 'zod';
import type { ImageStack, PixelArray } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { percentiles } from './percentile.js';

export const percentileNormalizeKwargs = z
  .strictObject({
    low: z.number().min(0).max(100).default(1),
    high: z.number().min(0).max(100).default(99.9),
  })
  .refine((k) => k.low < k.high, { message: 'low must be below high', path: ['low'] });

/**
 * Per plane: p_lo, p_hi = numpy.percentile(plane, [low, high]) (linear interpolation), then
 * (x − p_lo) / (p_hi − p_lo) clipped to [0, 1], float32. A plane with p_hi = p_lo becomes all zeros.
 */
export function percentileNormalize(stack: ImageStack, low: number, high: number, signal?: AbortSignal) {
  const [n, h, w] = stack.shape;
  const size = h * w;
  const out = new Float32Array(n * size);
  const measurements: Record<string, number>[] = [];
  for (let p = 0; p < n; p++) {
    signal?.throwIfAborted();
    const plane = stack.data.subarray(p * size, (p + 1) * size) as PixelArray;
    const [lo, hi] = percentiles(plane, stack.dtype, [low, high]) as [number, number];
    const o = p * size;
    if (hi > lo) {
      const scale = 1 / (hi - lo);
      for (let i = 0; i < size; i++) {
        const v = (plane[i]! - lo) * scale;
        out[o + i] = v <= 0 ? 0 : v >= 1 ? 1 : v;
      }
    }
    measurements.push({ percentile_low: lo, percentile_high: hi });
  }
  return { stack: { dtype: 'float32', shape: [n, h, w], data: out } as ImageStack<'float32'>, measurements };
}

export const percentileNormalizeFunction = defineFunction({
  name: 'percentile_normalize',
  description:
    'Per-plane contrast stretch: (x − P_low) / (P_high − P_low) clipped to [0, 1], float32, percentiles in percent as numpy.percentile (linear); measurements `percentile_low`, `percentile_high`.',
  kwargs: percentileNormalizeKwargs,
  run: (stack, kw, ctx) => percentileNormalize(stack, kw.low, kw.high, ctx.signal),
});
