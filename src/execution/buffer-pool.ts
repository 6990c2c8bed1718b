/**
 * Large pixel arrays recycled within one worker (thread or process). Every array a task allocates
 * is fresh memory until V8 collects the old ones, and fresh memory costs a page fault per 4 KiB:
 * on the plate benchmark the first run on a fresh pool took 34,000–43,000 faults against a few
 * thousand in later runs. Handing back arrays nothing can read any more (see run-task.ts: group
 * stacks and chain intermediates between built-in functions) lets the next group reuse them.
 *
 * Only arrays this pool handed out are taken back, each once; anything else given is ignored.
 * Contents of a recycled array are whatever was there: takers must write every element.
 */
import { allocate, dtypeOf, type Allocate, type PixelArray } from '../image.js';

/** Smaller arrays come from V8's own heap cheaply; pooling them is not worth the bookkeeping. */
const MIN_POOLED_BYTES = 64 * 1024;
const MiB = 1024 * 1024;

export class BufferPool {
  readonly #maxFreeBytes: number;
  readonly #free = new Map<string, PixelArray[]>();
  readonly #issued = new WeakSet<PixelArray>();
  #freeBytes = 0;

  /** @param maxFreeBytes most memory kept for reuse; beyond it, returned arrays are left to the GC */
  constructor(maxFreeBytes = 32 * MiB) {
    this.#maxFreeBytes = maxFreeBytes;
  }

  /** An array of `length` elements of `dtype`, recycled when one is free; its contents are unspecified. */
  readonly allocate: Allocate = (dtype, length) => {
    const list = this.#free.get(`${dtype}:${length}`);
    const reused = list?.pop();
    if (reused) this.#freeBytes -= reused.BYTES_PER_ELEMENT * length;
    // A buffer transferred away since it was returned is empty now: never hand that out.
    const data = reused !== undefined && reused.length === length ? reused : allocate(dtype, length);
    if (data.byteLength >= MIN_POOLED_BYTES) this.#issued.add(data);
    return data as never;
  };

  /** Takes back an array from `allocate` that nothing will read again; others are ignored. */
  release(data: PixelArray): void {
    if (!this.#issued.delete(data) || this.#freeBytes + data.byteLength > this.#maxFreeBytes) return;
    const key = `${dtypeOf(data)}:${data.length}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, (list = []));
    list.push(data);
    this.#freeBytes += data.byteLength;
  }

  /** Takes back each of `arrays` unless it shares its buffer with one of `keep` (a view still in use). */
  releaseExcept(arrays: readonly PixelArray[], keep: readonly PixelArray[]): void {
    const kept = new Set(keep.map((a) => a.buffer));
    for (const a of arrays) if (!kept.has(a.buffer)) this.release(a);
  }

  /** Bytes held for reuse (for tests). */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}

