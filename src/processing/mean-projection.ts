import { z } from 'zod';
import type { ImageStack } from '../image.js';
import { defineFunction } from './define.js';

/** Per-pixel mean over the N planes (summed in float64), as float32. A float32 single plane is returned as is. */
export function meanProjection(stack: ImageStack): ImageStack<'float32'> {
  const [n, h, w] = stack.shape;
  if (n === 0) throw new RangeError('mean_projection: the stack has no planes');
  if (n === 1 && stack.dtype === 'float32') return stack as ImageStack<'float32'>;
  const size = h * w;
  const src = stack.data;
  const acc = new Float64Array(size);
  for (let p = 0; p < n; p++) {
    const off = p * size;
    for (let i = 0; i < size; i++) acc[i] += src[off + i]!;
  }
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = acc[i]! / n;
  return { dtype: 'float32', shape: [1, h, w], data: out };
}

export const meanProjectionFunction = defineFunction({
  name: 'mean_projection',
  description: 'Mean-intensity projection: N planes → 1 float32 plane.',
  kwargs: z.strictObject({}),
  run: (stack) => meanProjection(stack),
});
