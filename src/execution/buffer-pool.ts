/**
 * Large pixel arrays recycled within one worker (thread or process). Every array a task allocates
 * is fresh memory until V8 collects the old ones, and fresh memory costs a page fault per 4 KiB:
 * on the plate benchmark the first run on a fresh pool took 34,000–43,000 faults against a few
 * thousand in later runs, and a 160 MiB stack of 4096² planes took 600–700 ms to first-touch
 * against 8 ms to refill. Handing back arrays nothing can read any more (see run-task.ts: group
 * stacks and chain intermediates between built-in functions) lets the next group reuse them.
 *
 * How much to keep: what a task had out at once at its busiest, since the next task of the same
 * plate asks for the same arrays again (sizes are whatever the images are: a fixed cap would keep
 * 512² stacks and drop every 4096² one). Never less than a small floor, never more than the
 * budget the run gives the worker (`setBudget`: from the preflight estimate and the memory limit).
 *
 * Only arrays this pool handed out are taken back, each once; anything else given is ignored.
 * Contents of a recycled array are whatever was there: takers must write every element.
 */
import { allocate, dtypeOf, type Allocate, type PixelArray } from '../image.js';

/** Smaller arrays come from V8's own heap cheaply; pooling them is not worth the bookkeeping. */
const MIN_POOLED_BYTES = 64 * 1024;
const MiB = 1024 * 1024;
/** Kept whatever the tasks look like: the 512² benchmark plate's working set fits. */
export const POOL_FLOOR_BYTES = 32 * MiB;
/** The budget when the run gives none (no preflight): a bound for a worker that meets one giant task. */
export const POOL_DEFAULT_BUDGET_BYTES = 1024 * MiB;

export class BufferPool {
  readonly #floorBytes: number;
  #budgetBytes: number;
  readonly #free = new Map<string, PixelArray[]>();
  readonly #issued = new WeakSet<PixelArray>();
  #freeBytes = 0;
  /** Pooled-size bytes handed out and not yet returned in the current task. */
  #outBytes = 0;
  /** The most `#outBytes` reached in any task: what a task needs at once. */
  #busiestBytes = 0;

  constructor(options: { readonly floorBytes?: number; readonly budgetBytes?: number } = {}) {
    this.#floorBytes = options.floorBytes ?? POOL_FLOOR_BYTES;
    this.#budgetBytes = options.budgetBytes ?? POOL_DEFAULT_BUDGET_BYTES;
  }

  /** An array of `length` elements of `dtype`, recycled when one is free; its contents are unspecified. */
  readonly allocate: Allocate = (dtype, length) => {
    const list = this.#free.get(`${dtype}:${length}`);
    const reused = list?.pop();
    if (reused) this.#freeBytes -= reused.BYTES_PER_ELEMENT * length;
    // A buffer transferred away since it was returned is empty now: never hand that out.
    const data = reused !== undefined && reused.length === length ? reused : allocate(dtype, length);
    if (data.byteLength >= MIN_POOLED_BYTES) {
      this.#issued.add(data);
      this.#outBytes += data.byteLength;
      this.#busiestBytes = Math.max(this.#busiestBytes, this.#outBytes);
    }
    return data as never;
  };

  /** Takes back an array from `allocate` that nothing will read again; others are ignored. */
  release(data: PixelArray): void {
    if (!this.#issued.delete(data)) return;
    this.#outBytes -= data.byteLength;
    if (this.#freeBytes + data.byteLength > this.limitBytes) return;
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

  /**
   * A task ended: whatever it still had out is garbage now (outputs it kept, arrays user code
   * held), so it no longer counts as in use.
   */
  endTask(): void {
    this.#outBytes = 0;
  }

  /** The most this worker may keep for reuse; what is held beyond it now is let go at once. */
  setBudget(bytes: number): void {
    this.#budgetBytes = bytes;
    this.#trim();
  }

  /** Bytes it keeps at most now: the busiest task's need, within floor and budget. */
  get limitBytes(): number {
    return Math.min(this.#budgetBytes, Math.max(this.#floorBytes, this.#busiestBytes));
  }

  /** Bytes held for reuse (for tests). */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  #trim(): void {
    for (const [key, list] of this.#free) {
      while (this.#freeBytes > this.limitBytes && list.length > 0) this.#freeBytes -= list.pop()!.byteLength;
      if (list.length === 0) this.#free.delete(key);
    }
  }
}
