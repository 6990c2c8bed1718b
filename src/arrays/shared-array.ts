/**
 * An N-D array in C order over a `SharedArrayBuffer`, and its handle: the few fields a worker needs to
 * rebuild the same array over the same memory.
 *
 * Why a handle and not the array: `postMessage` structured-clones its payload, and a clone of an
 * `ArrayBuffer` copies the bytes, while a clone of a `SharedArrayBuffer` is another reference to the
 * same memory. So a handle `{ buffer, dtype, shape, byteOffset }` costs a few hundred bytes to send
 * whatever the array's size, and a worker's writes are visible to every other thread at once. Nothing
 * here synchronises those writes: chunks must write disjoint elements (the chunk plans guarantee it).
 */
import { ChunkPlanError } from './errors.js';
import { arrayDTypeOf, bytesPerElement, isArrayDType, typedView, type ArrayDType, type TypedArrayByArrayDType } from './dtype.js';

export interface SharedArrayHandle<D extends ArrayDType = ArrayDType> {
  readonly buffer: SharedArrayBuffer;
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Where element 0 starts in `buffer`; lets several arrays share one buffer. */
  readonly byteOffset: number;
}

/** Validates a shape and returns its element count. */
function sizeOfShape(shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw new ChunkPlanError(`shape must be an array of integers, got ${String(shape)}`);
  let size = 1;
  for (const [axis, n] of shape.entries()) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ChunkPlanError(`shape[${axis}] must be an integer ≥ 0, got ${String(n)}`, { shape: [...shape] });
    }
    size *= n;
  }
  if (!Number.isSafeInteger(size)) throw new ChunkPlanError(`shape ${JSON.stringify(shape)} has too many elements`);
  return size;
}

/** C-order strides in elements: the last axis is contiguous. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
}

export class SharedArray<D extends ArrayDType = ArrayDType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Element strides, C order. */
  readonly strides: readonly number[];
  /** Number of elements. */
  readonly size: number;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  /** All elements as one typed view over the shared memory (never a copy). */
  readonly data: TypedArrayByArrayDType[D];

  private constructor(dtype: D, shape: readonly number[], buffer: SharedArrayBuffer, byteOffset: number) {
    if (!isArrayDType(dtype)) throw new ChunkPlanError(`unknown dtype ${JSON.stringify(dtype)}`);
    // An ArrayBuffer here would be copied on every postMessage, silently defeating the design.
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new ChunkPlanError(`buffer must be a SharedArrayBuffer, got ${Object.prototype.toString.call(buffer)}`);
    }
    const size = sizeOfShape(shape);
    const bpe = bytesPerElement(dtype);
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset % bpe !== 0) {
      throw new ChunkPlanError(`byteOffset must be a multiple of ${bpe} ≥ 0 for ${dtype}, got ${String(byteOffset)}`);
    }
    if (byteOffset + size * bpe > buffer.byteLength) {
      throw new ChunkPlanError(
        `${dtype} array of shape ${JSON.stringify(shape)} at byte ${byteOffset} needs ${byteOffset + size * bpe} bytes; buffer has ${buffer.byteLength}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(cStrides(shape));
    this.size = size;
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.data = typedView(dtype, buffer, byteOffset, size);
  }

  /** A zero-filled array in fresh shared memory. */
  static create<D extends ArrayDType>(dtype: D, shape: readonly number[]): SharedArray<D> {
    if (!isArrayDType(dtype)) throw new ChunkPlanError(`unknown dtype ${JSON.stringify(dtype)}`);
    const bytes = sizeOfShape(shape) * bytesPerElement(dtype);
    return new SharedArray(dtype, shape, new SharedArrayBuffer(bytes), 0);
  }

  /**
   * Copies `data` into fresh shared memory, once. Use it to bring an image that was read into an
   * ordinary buffer into shared memory; after that, nothing copies it again. `shape` defaults to 1-D.
   */
  static from<D extends ArrayDType>(data: TypedArrayByArrayDType[D], shape: readonly number[] = [data.length]): SharedArray<D> {
    const dtype = arrayDTypeOf(data) as D | undefined;
    if (dtype === undefined) throw new ChunkPlanError(`unsupported typed array ${Object.prototype.toString.call(data)}`);
    if (sizeOfShape(shape) !== data.length) {
      throw new ChunkPlanError(`shape ${JSON.stringify(shape)} does not hold ${data.length} elements`);
    }
    const out = SharedArray.create(dtype, shape);
    (out.data as { set(a: ArrayLike<number>): void }).set(data);
    return out;
  }

  /**
   * Rebuilds an array from a handle (typically in a worker). Checks the handle as strictly as a
   * constructor would, since it arrived through a message.
   * @throws ChunkPlanError (`E_CHUNK_INVALID`) for a malformed handle or one that overruns its buffer.
   */
  static fromHandle<D extends ArrayDType>(handle: SharedArrayHandle<D>): SharedArray<D> {
    if (handle === null || typeof handle !== 'object') throw new ChunkPlanError('a SharedArray handle must be an object');
    return new SharedArray(handle.dtype, handle.shape, handle.buffer, handle.byteOffset ?? 0);
  }

  /** Metadata that crosses to workers by reference (the buffer is shared, never cloned). */
  handle(): SharedArrayHandle<D> {
    return Object.freeze({ buffer: this.buffer, dtype: this.dtype, shape: this.shape, byteOffset: this.byteOffset });
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** True if the two arrays share any byte of memory (writing one would change the other). */
  overlaps(other: SharedArray): boolean {
    return (
      this.buffer === other.buffer &&
      this.byteOffset < other.byteOffset + other.byteLength &&
      other.byteOffset < this.byteOffset + this.byteLength
    );
  }

  /** Flat (C-order) index of an N-D index; no bounds check beyond the element count. */
  offsetOf(index: readonly number[]): number {
    let o = 0;
    for (let k = 0; k < index.length; k++) o += index[k]! * this.strides[k]!;
    return o;
  }

  /**
   * Elements `[start, end)` of the flat array as a view (no copy). For a C-order array, a range of
   * the first axis is contiguous: `flat(i * strides[0], j * strides[0])` is planes/rows i..j.
   */
  flat(start: number, end: number): TypedArrayByArrayDType[D] {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.size)) {
      throw new ChunkPlanError(`flat range [${start}, ${end}) is outside an array of ${this.size} elements`);
    }
    return this.data.subarray(start, end) as TypedArrayByArrayDType[D];
  }
}
