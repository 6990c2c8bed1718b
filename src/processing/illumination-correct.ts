import { z } from 'zod';
import type { ImageStack } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { checkGaussianKernel, DEFAULT_TRUNCATE, gaussianBlur } from './gaussian.js';

export const illuminationCorrectKwargs = z.strictObject({
  method: z.enum(['mean', 'median']).default('mean'),
  sigma: z.number().finite().min(0).default(50),
});

/**
 * Retrospective flat-field estimate from N images of one channel: the per-pixel mean (or median) over
 * the planes, Gaussian-smoothed with `sigma` (mode 'reflect', as gaussian_blur; 0 = no smoothing) and
 * scaled to mean 1.
 *
 * @throws RangeError when the stack has no planes or the flat field's mean is not positive.
 */
export function estimateFlatField(stack: ImageStack, method: 'mean' | 'median', sigma: number): Float32Array {
  const [n, h, w] = stack.shape;
  if (n === 0) throw new RangeError('illumination_correct: the stack has no planes');
  const size = h * w;
  const data = stack.data;
  const flat = new Float32Array(size);
  if (method === 'mean') {
    const acc = new Float64Array(size);
    for (let p = 0; p < n; p++) {
      const o = p * size;
      for (let i = 0; i < size; i++) acc[i] += data[o + i]!;
    }
    for (let i = 0; i < size; i++) flat[i] = acc[i]! / n;
  } else {
    const column = new Float64Array(n);
    const mid = n >> 1;
    for (let i = 0; i < size; i++) {
      if (n > 32) {
        for (let p = 0; p < n; p++) column[p] = data[p * size + i]!;
        column.sort();
        flat[i] = n % 2 === 1 ? column[mid]! : (column[mid - 1]! + column[mid]!) / 2;
        continue;
      }
      // Insertion sort: N (sites per channel) is usually small, and this beats a sort call per pixel.
      for (let p = 0; p < n; p++) {
        const v = data[p * size + i]!;
        let q = p;
        while (q > 0 && column[q - 1]! > v) {
          column[q] = column[q - 1]!;
          q--;
        }
        column[q] = v;
      }
      flat[i] = n % 2 === 1 ? column[mid]! : (column[mid - 1]! + column[mid]!) / 2;
    }
  }
  let smooth: Float32Array = flat;
  if (sigma > 0) {
    smooth = gaussianBlur({ dtype: 'float32', shape: [1, h, w], data: flat }, sigma).data;
  }
  let sum = 0;
  for (let i = 0; i < size; i++) sum += smooth[i]!;
  const mean = sum / size;
  if (!(mean > 0) || !Number.isFinite(mean)) {
    throw new RangeError(`illumination_correct: the flat field's mean is ${mean}; images must be mostly positive`);
  }
  for (let i = 0; i < size; i++) smooth[i] = smooth[i]! / mean;
  return smooth;
}

/** Divides every plane by the flat field (float32 out); pixels where the flat field is ≤ 0 become 0. */
export function illuminationCorrect(stack: ImageStack, method: 'mean' | 'median', sigma: number, signal?: AbortSignal): ImageStack<'float32'> {
  const [n, h, w] = stack.shape;
  const size = h * w;
  const flat = estimateFlatField(stack, method, sigma);
  const out = new Float32Array(n * size);
  const data = stack.data;
  for (let p = 0; p < n; p++) {
    signal?.throwIfAborted();
    const o = p * size;
    for (let i = 0; i < size; i++) {
      const f = flat[i]!;
      out[o + i] = f > 0 ? data[o + i]! / f : 0;
    }
  }
  return { dtype: 'float32', shape: [n, h, w], data: out };
}

export const illuminationCorrectFunction = defineFunction({
  name: 'illumination_correct',
  description:
    'Flat-field correction from the images themselves: give it all sites of one channel (N planes); the per-pixel mean or median over planes, Gaussian-smoothed (sigma, 0 = none) and scaled to mean 1, divides every plane (float32 out).',
  kwargs: illuminationCorrectKwargs,
  run: (stack, kw, ctx) => {
    checkAborted(ctx);
    if (kw.sigma > 0) checkGaussianKernel('illumination_correct', 'sigma', kw.sigma, DEFAULT_TRUNCATE, stack.shape);
    return illuminationCorrect(stack, kw.method, kw.sigma, ctx.signal);
  },
});
