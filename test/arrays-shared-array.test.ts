// SharedArray and its handle: what crosses a thread boundary is metadata plus a reference to the same
// memory. Checked through a real MessageChannel (the transport worker_threads uses), so a copy would
// show up as a write that the other side does not see.
import { MessageChannel, receiveMessageOnPort, type TransferListItem } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ARRAY_DTYPES, SharedArray, bytesPerElement, type ArrayDType, type SharedArrayHandle } from '../src/arrays/index.js';
import { DTYPES } from '../src/image.js';
import { isPlateflowError } from '../src/errors.js';

/** Posts `value` through a MessageChannel and returns what the other end received (synchronously). */
function throughPort<T>(value: T, transfer: TransferListItem[] = []): T {
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(value, transfer);
    return receiveMessageOnPort(port2)!.message as T;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('SharedArray', () => {
  it('holds every image dtype plus int8, int16 and float64, with the right element sizes', () => {
    expect(ARRAY_DTYPES).toEqual(expect.arrayContaining([...DTYPES, 'int8', 'int16', 'float64']));
    const sizes: Record<ArrayDType, number> = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 };
    for (const d of ARRAY_DTYPES) {
      const a = SharedArray.create(d, [3, 5]);
      expect(bytesPerElement(d)).toBe(sizes[d]);
      expect(a.byteLength).toBe(15 * sizes[d]);
      expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  it('is C order: strides, offsets and flat views of the first axis', () => {
    const a = SharedArray.create('uint16', [2, 3, 4]);
    expect(a.strides).toEqual([12, 4, 1]);
    expect(a.offsetOf([1, 2, 3])).toBe(23);
    const plane1 = a.flat(12, 24);
    plane1[0] = 7;
    expect(a.data[12]).toBe(7); // a view, not a copy
  });

  it('a handle crosses a MessageChannel by reference: writes on either side are seen by the other', () => {
    const a = SharedArray.create('float64', [4, 4]);
    const received = throughPort(a.handle());
    expect(received.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b = SharedArray.fromHandle(received);
    b.data[5] = 1.5;
    expect(a.data[5]).toBe(1.5);
    a.data[6] = -2;
    expect(b.data[6]).toBe(-2);
  });

  it('by contrast, an ordinary ArrayBuffer in a message is copied (why handles must hold shared memory)', () => {
    const plain = new Float64Array(4);
    const received = throughPort({ data: plain });
    received.data[0] = 9;
    expect(plain[0]).toBe(0);
  });

  it('a SharedArrayBuffer cannot be put in a transfer list, and sharing never detaches the sender', () => {
    const a = SharedArray.create('uint8', [16]);
    expect(() => throughPort(a.handle(), [a.buffer as unknown as TransferListItem])).toThrow();
    throughPort(a.handle());
    expect(a.buffer.byteLength).toBe(16);
    expect(a.data.length).toBe(16);
  });

  it('several arrays can live in one buffer at aligned offsets; overlaps() tells whether they alias', () => {
    const buffer = new SharedArrayBuffer(64);
    const a = SharedArray.fromHandle({ buffer, dtype: 'float32', shape: [4], byteOffset: 0 });
    const b = SharedArray.fromHandle({ buffer, dtype: 'float32', shape: [4], byteOffset: 16 });
    const c = SharedArray.fromHandle({ buffer, dtype: 'uint8', shape: [20], byteOffset: 10 });
    expect(a.overlaps(b)).toBe(false);
    expect(b.overlaps(c)).toBe(true);
    expect(c.overlaps(a)).toBe(true);
  });

  it('from() copies an ordinary typed array into shared memory once', () => {
    const src = Int16Array.of(1, -2, 3, -4, 5, -6);
    const a = SharedArray.from(src, [2, 3]);
    expect(a.dtype).toBe('int16');
    expect(Array.from(a.data)).toEqual([1, -2, 3, -4, 5, -6]);
    src[0] = 100;
    expect(a.data[0]).toBe(1);
    expect(() => SharedArray.from(src, [4, 2])).toThrow(/does not hold 6 elements/);
  });

  it.each<[string, () => unknown]>([
    ['an ArrayBuffer instead of a SharedArrayBuffer', () => SharedArray.fromHandle({ buffer: new ArrayBuffer(8) as unknown as SharedArrayBuffer, dtype: 'uint8', shape: [8], byteOffset: 0 })],
    ['an unknown dtype', () => SharedArray.fromHandle({ buffer: new SharedArrayBuffer(8), dtype: 'complex64' as ArrayDType, shape: [1], byteOffset: 0 })],
    ['a shape larger than the buffer', () => SharedArray.fromHandle({ buffer: new SharedArrayBuffer(8), dtype: 'float32', shape: [3], byteOffset: 0 })],
    ['a misaligned byteOffset', () => SharedArray.fromHandle({ buffer: new SharedArrayBuffer(16), dtype: 'float32', shape: [2], byteOffset: 2 })],
    ['a negative dimension', () => SharedArray.create('uint8', [2, -1])],
    ['a fractional dimension', () => SharedArray.create('uint8', [2.5])],
    ['a handle that is not an object', () => SharedArray.fromHandle(null as unknown as SharedArrayHandle)],
  ])('rejects %s with E_CHUNK_INVALID', (_, make) => {
    let caught: unknown;
    try {
      make();
    } catch (err) {
      caught = err;
    }
    expect(isPlateflowError(caught, 'E_CHUNK_INVALID')).toBe(true);
  });

  it('the handle is small and frozen: metadata only', () => {
    const a = SharedArray.create('uint16', [1024, 1024]);
    const h = a.handle();
    expect(Object.isFrozen(h)).toBe(true);
    expect(Object.keys(h).sort()).toEqual(['buffer', 'byteOffset', 'dtype', 'shape']);
    expect(JSON.stringify({ ...h, buffer: undefined }).length).toBeLessThan(100);
  });
});
