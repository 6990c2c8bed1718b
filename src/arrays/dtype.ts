/**
 * Element types a `SharedArray` can hold: the image dtypes of `src/image.ts` plus three more.
 *
 * Why a superset here instead of widening `DType` in `image.ts`: `DType` is the set of pixel types the
 * TIFF/Zarr readers produce and every processing function switches on; adding members there would
 * ripple into every exhaustive switch in storage/ and processing/. Whole-array work (volumes, derived
 * arrays, float64 accumulators, signed 8/16-bit data) needs `int8`, `int16` and `float64` as well, so
 * they live here, and image dtypes are delegated to `image.ts` so the two maps cannot drift.
 *
 * Not included: `bigint64`/`biguint64` (their elements are `bigint`, so every reduction would need a
 * second code path) and `Uint8ClampedArray` (a view convention, not a storage type).
 */
import { bytesPerPixel, DTYPES, viewOf, type DType, type TypedArrayByDType } from '../image.js';

export type ArrayDType = DType | 'int8' | 'int16' | 'float64';

/** dtype → typed array, like zarrita's `TypedArray<D>`; extends the image map so image data fits. */
export interface TypedArrayByArrayDType extends TypedArrayByDType {
  int8: Int8Array;
  int16: Int16Array;
  float64: Float64Array;
}

export type AnyTypedArray = TypedArrayByArrayDType[ArrayDType];

type ExtraDType = Exclude<ArrayDType, DType>;

const EXTRA = {
  int8: Int8Array,
  int16: Int16Array,
  float64: Float64Array,
} as const satisfies { [K in ExtraDType]: { readonly BYTES_PER_ELEMENT: number } };

export const ARRAY_DTYPES: readonly ArrayDType[] = Object.freeze([...DTYPES, ...(Object.keys(EXTRA) as ExtraDType[])]);

export function isImageDType(dtype: ArrayDType): dtype is DType {
  return (DTYPES as readonly string[]).includes(dtype);
}

export function isArrayDType(value: unknown): value is ArrayDType {
  return typeof value === 'string' && (ARRAY_DTYPES as readonly string[]).includes(value);
}

/** True for integer dtypes (one histogram bin per value makes sense, sums are exact below 2^53). */
export function isIntegerDType(dtype: ArrayDType): boolean {
  return dtype !== 'float32' && dtype !== 'float64';
}

export function bytesPerElement(dtype: ArrayDType): number {
  return isImageDType(dtype) ? bytesPerPixel(dtype) : EXTRA[dtype].BYTES_PER_ELEMENT;
}

/** A typed view over existing bytes (no copy); `byteOffset` must be a multiple of the element size. */
export function typedView<D extends ArrayDType>(
  dtype: D,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TypedArrayByArrayDType[D] {
  if (isImageDType(dtype)) return viewOf(dtype, buffer, byteOffset, length) as unknown as TypedArrayByArrayDType[D];
  const Ctor = EXTRA[dtype as ExtraDType];
  return new Ctor(buffer as ArrayBuffer, byteOffset, length) as TypedArrayByArrayDType[D];
}

/**
 * The dtype of a typed array, or `undefined` for a kind we do not store. (`image.ts`'s `dtypeOf` maps
 * anything unknown to float32, which is right for pixel arrays but wrong for e.g. a Float64Array.)
 */
export function arrayDTypeOf(data: ArrayBufferView): ArrayDType | undefined {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Float64Array) return 'float64';
  return undefined;
}
