/**
 * Element types a `SharedArray` can hold. They are exactly the image dtypes of `src/image.ts` (which
 * grew `int8`, `int16` and `float64` so TIFFs of those types can be read and written as they are);
 * the names here stay so array code reads as array code, and delegate so the two maps cannot drift.
 *
 * Not included: `bigint64`/`biguint64` (their elements are `bigint`, so every reduction would need a
 * second code path) and `Uint8ClampedArray` (a view convention, not a storage type).
 */
import { bytesPerPixel, DTYPES, dtypeOf, isIntegerDType as isIntegerImageDType, viewOf, type DType, type PixelArray, type TypedArrayByDType } from '../image.js';

export type ArrayDType = DType;

/** dtype → typed array, like zarrita's `TypedArray<D>`. */
export type TypedArrayByArrayDType = TypedArrayByDType;

export type AnyTypedArray = TypedArrayByArrayDType[ArrayDType];

export const ARRAY_DTYPES: readonly ArrayDType[] = Object.freeze([...DTYPES]);

/** Every array dtype is an image dtype now; kept so callers that narrow keep compiling. */
export function isImageDType(dtype: ArrayDType): dtype is DType {
  return (DTYPES as readonly string[]).includes(dtype);
}

export function isArrayDType(value: unknown): value is ArrayDType {
  return typeof value === 'string' && (ARRAY_DTYPES as readonly string[]).includes(value);
}

/** True for integer dtypes (one histogram bin per value makes sense, sums are exact below 2^53). */
export function isIntegerDType(dtype: ArrayDType): boolean {
  return isIntegerImageDType(dtype);
}

export function bytesPerElement(dtype: ArrayDType): number {
  return bytesPerPixel(dtype);
}

/** A typed view over existing bytes (no copy); `byteOffset` must be a multiple of the element size. */
export function typedView<D extends ArrayDType>(dtype: D, buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArrayByArrayDType[D] {
  return viewOf(dtype, buffer, byteOffset, length);
}

/** The dtype of a typed array, or `undefined` for a kind we do not store (e.g. a BigInt64Array). */
export function arrayDTypeOf(data: ArrayBufferView): ArrayDType | undefined {
  const known =
    data instanceof Uint8Array || data instanceof Int8Array || data instanceof Uint16Array || data instanceof Int16Array ||
    data instanceof Uint32Array || data instanceof Int32Array || data instanceof Float32Array || data instanceof Float64Array;
  return known ? dtypeOf(data as PixelArray) : undefined;
}
