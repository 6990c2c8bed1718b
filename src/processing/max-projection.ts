import { z } from 'zod';
import { allocate, type Allocate, type ImageStack, type PixelArray } from '../image.js';
import { defineFunction } from './define.js';
import { wasmKernels, wasmRegions } from './wasm.js';

// One loop body per array type: V8 keeps type feedback per function, so a single generic loop that
// sees Uint8Array, Uint16Array and Float32Array would go megamorphic and run several times slower.

function maxU8(src: Uint8Array, n: number, size: number): Uint8Array {
  const out = src.slice(0, size);
  for (let p = 1; p < n; p++) {
    const o = p * size;
    for (let i = 0; i < size; i++) {
      const v = src[o + i]!;
      if (v > out[i]!) out[i] = v;
    }
  }
  return out;
}

function maxU16(src: Uint16Array, n: number, size: number): Uint16Array {
  const out = src.slice(0, size);
  for (let p = 1; p < n; p++) {
    const o = p * size;
    for (let i = 0; i < size; i++) {
      const v = src[o + i]!;
      if (v > out[i]!) out[i] = v;
    }
  }
  return out;
}

function maxF32(src: Float32Array, n: number, size: number): Float32Array {
  const out = src.slice(0, size);
  for (let p = 1; p < n; p++) {
    const o = p * size;
    for (let i = 0; i < size; i++) {
      const v = src[o + i]!;
      if (v > out[i]!) out[i] = v;
    }
  }
  return out;
}

function maxOther(src: Uint32Array | Int32Array, n: number, size: number): Uint32Array | Int32Array {
  const out = src.slice(0, size);
  for (let p = 1; p < n; p++) {
    const o = p * size;
    for (let i = 0; i < size; i++) {
      const v = src[o + i]!;
      if (v > out[i]!) out[i] = v;
    }
  }
  return out;
}

/**
 * Pixels per pass of the WASM projection. The accumulator and one plane's slice (2 × 32 KiB at
 * uint16) stay in cache, so each source pixel is read from memory once and each result written
 * once; staging whole planes in WASM memory wrote and re-read every plane (at 2048² the staging
 * copies cost more than the SIMD max itself).
 */
const MAX_PASS_PIXELS = 16 * 1024;

/** uint8/uint16 projection in the WASM kernels (SIMD max), a cache-sized slice at a time; false when unavailable. */
function maxWasm(src: Uint8Array | Uint16Array, n: number, size: number, out: Uint8Array | Uint16Array): boolean {
  const k = wasmKernels();
  if (!k) return false;
  const bpp = src.BYTES_PER_ELEMENT;
  const pass = Math.min(size, MAX_PASS_PIXELS);
  const regions = wasmRegions(k, [pass * bpp, pass * bpp]);
  if (!regions) return false;
  const [accAt, planeAt] = regions as [number, number];
  const Ctor = bpp === 1 ? Uint8Array : Uint16Array;
  const acc = new Ctor(k.memory.buffer, accAt, pass);
  const plane = new Ctor(k.memory.buffer, planeAt, pass);
  for (let start = 0; start < size; start += pass) {
    const length = Math.min(pass, size - start);
    acc.set(src.subarray(start, start + length));
    for (let p = 1; p < n; p++) {
      const from = p * size + start;
      plane.set(src.subarray(from, from + length));
      if (bpp === 1) k.maxIntoU8(accAt, planeAt, length);
      else k.maxIntoU16(accAt, planeAt, length);
    }
    out.set(length === pass ? acc : acc.subarray(0, length), start);
  }
  return true;
}

/** Per-pixel maximum over the N planes of `stack`, same dtype. One plane is returned as is (no copy). */
export function maxProjection(stack: ImageStack, alloc: Allocate = allocate): ImageStack {
  const [n, h, w] = stack.shape;
  if (n === 0) throw new RangeError('max_projection: the stack has no planes');
  if (n === 1) return stack;
  const size = h * w;
  let out: PixelArray;
  switch (stack.dtype) {
    case 'uint8': {
      const o = alloc('uint8', size);
      out = maxWasm(stack.data as Uint8Array, n, size, o) ? o : maxU8(stack.data as Uint8Array, n, size);
      break;
    }
    case 'uint16': {
      const o = alloc('uint16', size);
      out = maxWasm(stack.data as Uint16Array, n, size, o) ? o : maxU16(stack.data as Uint16Array, n, size);
      break;
    }
    case 'float32':
      out = maxF32(stack.data as Float32Array, n, size);
      break;
    default:
      out = maxOther(stack.data as Uint32Array | Int32Array, n, size);
  }
  return { dtype: stack.dtype, shape: [1, h, w], data: out } as ImageStack;
}

export const maxProjectionFunction = defineFunction({
  name: 'max_projection',
  description: 'Maximum-intensity projection: N planes → 1 plane of the same dtype (NaN-free float input assumed).',
  kwargs: z.strictObject({}),
  run: (stack, _kw, ctx) => maxProjection(stack, ctx.allocate),
});
