/**
 * Per-thread scratch buffers for kernels, so steady-state processing allocates only its outputs.
 *
 * Module state is per isolate, so each worker thread has its own pool and no locking is needed.
 * Every caller names a slot; a slot's buffer is reused (grown to the next power of two when too
 * small) and handed out as an exact-length view. Rules for callers: kernels are synchronous, so a
 * slot is never used by two calls at once; use a distinct slot for each buffer alive at the same
 * time; never return a scratch view to the caller of a processing function (outputs are always fresh
 * allocations, because steps keep and transfer them).
 */

/** Buffers above this many bytes are not kept after use (a huge image should not pin memory forever). */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

type Ctor<T> = { new (length: number): T; BYTES_PER_ELEMENT: number };

const pool = new Map<string, ArrayBufferView & { length: number; subarray(a: number, b: number): unknown }>();

function get<T extends Float32Array | Float64Array | Uint32Array | Int32Array | Uint8Array>(ctor: Ctor<T>, slot: string, length: number): T {
  const key = `${ctor.name}:${slot}`;
  const have = pool.get(key) as T | undefined;
  if (have && have.length >= length) return have.subarray(0, length) as T;
  let size = 1024;
  while (size < length) size *= 2;
  const fresh = new ctor(size);
  if (size * ctor.BYTES_PER_ELEMENT <= MAX_KEPT_BYTES) pool.set(key, fresh);
  else pool.delete(key);
  return fresh.subarray(0, length) as T;
}

export function scratchF32(slot: string, length: number): Float32Array {
  return get(Float32Array, slot, length);
}

export function scratchF64(slot: string, length: number): Float64Array {
  return get(Float64Array, slot, length);
}

export function scratchU32(slot: string, length: number): Uint32Array {
  return get(Uint32Array, slot, length);
}

/** Drops every pooled buffer of this thread (e.g. after a run, or in tests). */
export function releaseScratch(): void {
  pool.clear();
}

/** Bytes currently held by this thread's pool. */
export function scratchBytes(): number {
  let n = 0;
  for (const b of pool.values()) n += b.byteLength;
  return n;
}
