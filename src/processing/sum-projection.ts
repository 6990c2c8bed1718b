import { z } from 'zod';
import type { ImageStack } from '../image.js';
import { defineFunction } from './define.js';

/**
 * Per-pixel sum over the N planes. uint8 and uint16 inputs give uint32 (exact for up to 65 537 planes of
 * uint16); uint32, int32 and float32 inputs give float32 (summed in float64, rounded once).
 */
export function sumProjection(stack: ImageStack): ImageStack<'uint32' | 'float32'> {
  const [n, h, w] = stack.shape;
  if (n === 0) throw new RangeError('sum_projection: the stack has no planes');
  const size = h * w;
  const src = stack.data;
  if (stack.dtype === 'uint8' || stack.dtype === 'uint16') {
    if (n > 65537) throw new RangeError(`sum_projection: ${n} planes could overflow uint32`);
    const out = new Uint32Array(size);
    for (let p = 0; p < n; p++) {
      const off = p * size;
      for (let i = 0; i < size; i++) out[i] += src[off + i]!;
    }
    return { dtype: 'uint32', shape: [1, h, w], data: out };
  }
  const acc = new Float64Array(size);
  for (let p = 0; p < n; p++) {
    const off = p * size;
    for (let i = 0; i < size; i++) acc[i] += src[off + i]!;
  }
  return { dtype: 'float32', shape: [1, h, w], data: Float32Array.from(acc) };
}

export const sumProjectionFunction = defineFunction({
  name: 'sum_projection',
  description: 'Sum projection: N planes → 1 plane; uint8/uint16 → uint32 (exact), other dtypes → float32.',
  kwargs: z.strictObject({}),
  run: (stack) => sumProjection(stack),
});
