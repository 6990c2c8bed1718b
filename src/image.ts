/**
 * The in-memory image vocabulary shared by storage, processing and execution.
 *
 * A stack is N planes of H×W pixels stored contiguously in C order (plane, row, column), so it can
 * be handed to WebAssembly or transferred to a worker as one buffer.
 */
export type DType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

export interface TypedArrayByDType {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}

export type PixelArray = TypedArrayByDType[DType];

export interface ImageStack<D extends DType = DType> {
  readonly dtype: D;
  /** [planes, height, width] */
  readonly shape: readonly [number, number, number];
  readonly data: TypedArrayByDType[D];
}

const CONSTRUCTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export const DTYPES: readonly DType[] = Object.keys(CONSTRUCTORS) as DType[];

export function bytesPerPixel(dtype: DType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

/** How a function gets its output arrays (see `FunctionContext.allocate`). */
export type Allocate = <D extends DType>(dtype: D, length: number) => TypedArrayByDType[D];

export function allocate<D extends DType>(dtype: D, length: number): TypedArrayByDType[D] {
  return new CONSTRUCTORS[dtype](length) as TypedArrayByDType[D];
}

/** A typed view over existing bytes (no copy); `byteOffset` must be aligned to the element size. */
export function viewOf<D extends DType>(dtype: D, buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArrayByDType[D] {
  return new CONSTRUCTORS[dtype](buffer as ArrayBuffer, byteOffset, length) as TypedArrayByDType[D];
}

export function dtypeOf(data: PixelArray): DType {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Float64Array) return 'float64';
  return 'float32';
}

/** True for the integer dtypes (signed or not). */
export function isIntegerDType(dtype: DType): boolean {
  return dtype !== 'float32' && dtype !== 'float64';
}

/** A stack of fresh (zeroed) planes, or of arrays from `alloc` (e.g. a pool's: contents unspecified). */
export function createStack<D extends DType>(dtype: D, planes: number, height: number, width: number, alloc: Allocate = allocate): ImageStack<D> {
  return { dtype, shape: [planes, height, width], data: alloc(dtype, planes * height * width) };
}

/** Plane `i` of a stack as a view (no copy). */
export function planeOf<D extends DType>(stack: ImageStack<D>, i: number): TypedArrayByDType[D] {
  const size = stack.shape[1] * stack.shape[2];
  return stack.data.subarray(i * size, (i + 1) * size) as TypedArrayByDType[D];
}

/** Planes of equal size and dtype joined into one stack (one copy, into a single allocation). */
export function stackPlanes<D extends DType>(planes: readonly ImageStack<D>[]): ImageStack<D> {
  if (planes.length === 0) throw new RangeError('cannot stack zero images');
  const first = planes[0]!;
  const [, h, w] = first.shape;
  let total = 0;
  for (const p of planes) {
    if (p.dtype !== first.dtype || p.shape[1] !== h || p.shape[2] !== w) {
      throw new RangeError(`cannot stack ${p.dtype} ${p.shape[1]}×${p.shape[2]} with ${first.dtype} ${h}×${w}`);
    }
    total += p.shape[0];
  }
  const out = createStack(first.dtype, total, h, w);
  let offset = 0;
  for (const p of planes) {
    (out.data as PixelArray).set(p.data as never, offset);
    offset += p.data.length;
  }
  return out;
}
