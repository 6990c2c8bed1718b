import { z } from 'zod';
import { allocate, type ImageStack, type PixelArray } from '../image.js';
import { defineFunction } from './define.js';

/** Per-pixel maximum over the N planes of `stack`, same dtype. One plane is returned as is (no copy). */
export function maxProjection(stack: ImageStack): ImageStack {
  const [n, h, w] = stack.shape;
  if (n === 0) throw new RangeError('max_projection: the stack has no planes');
  if (n === 1) return stack;
  const size = h * w;
  const src = stack.data;
  const out = allocate(stack.dtype, size) as PixelArray;
  out.set(src.subarray(0, size) as never);
  for (let p = 1; p < n; p++) {
    const off = p * size;
    for (let i = 0; i < size; i++) {
      const v = src[off + i]!;
      if (v > out[i]!) out[i] = v;
    }
  }
  return { dtype: stack.dtype, shape: [1, h, w], data: out } as ImageStack;
}

export const maxProjectionFunction = defineFunction({
  name: 'max_projection',
  description: 'Maximum-intensity projection: N planes → 1 plane of the same dtype (NaN-free float input assumed).',
  kwargs: z.strictObject({}),
  run: (stack) => maxProjection(stack),
});
