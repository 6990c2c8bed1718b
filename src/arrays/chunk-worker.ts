/**
 * The contract between the orchestrator (main thread) and a chunk worker module (worker thread), and
 * the wire format between them.
 *
 * A chunk worker is any ES module, loaded by path in the worker thread, that exports
 *
 *   export function processChunk(view: SharedArray, chunk: C, params: P, ctx: ChunkContext): R | Promise<R>
 *
 * `view` is the injected array rebuilt over the same shared memory, `chunk` one entry of the plan (a
 * `Range`, a `Tile`, or any small structured-cloneable descriptor) and `params` the run's parameters
 * (other arrays travel in params as handles). Write results for large outputs into a shared array; a
 * returned value is structured-cloned back, so it should be small (a histogram, a few numbers).
 */
import type { SerializedError } from '../errors.js';
import type { ArrayDType } from './dtype.js';
import type { SharedArray, SharedArrayHandle } from './shared-array.js';

/** What a chunk can ask about the run it belongs to. */
export interface ChunkContext {
  /** Position of this chunk in the plan. */
  readonly index: number;
  /** True once the run is cancelled (another chunk failed, or the caller aborted). Cheap: one atomic load. */
  cancelled(): boolean;
  /** Throws a `ChunkCancelled` error if the run is cancelled; call it between rows/planes of long chunks. */
  throwIfCancelled(): void;
  /**
   * Blocks this worker thread until the run is cancelled or `timeoutMs` passes; returns whether it was
   * cancelled. For chunks that wait on something (and for tests that need a chunk to stay running).
   */
  waitForCancel(timeoutMs: number): boolean;
}

export type ProcessChunk<C = unknown, P = unknown, R = unknown, D extends ArrayDType = ArrayDType> = (
  view: SharedArray<D>,
  chunk: C,
  params: P,
  ctx: ChunkContext,
) => R | Promise<R>;

export interface ChunkWorkerModule<C = unknown, P = unknown, R = unknown, D extends ArrayDType = ArrayDType> {
  readonly processChunk: ProcessChunk<C, P, R, D>;
}

/** Main → worker: metadata only. Every field is small; `array.buffer` and `cancel` are shared memory. */
export interface ChunkTask {
  readonly type: 'chunk';
  /** file: URL of the chunk worker module. */
  readonly worker: string;
  readonly array: SharedArrayHandle;
  readonly index: number;
  readonly chunk: unknown;
  readonly params: unknown;
  /** One Int32 per run: 0 = running, 1 = cancelled. Shared, so cancelling is one store + notify. */
  readonly cancel: Int32Array;
}

/** Worker → main. Errors travel serialized because structured clone drops `name` and `code`. */
export type ChunkReply = { readonly type: 'result'; readonly value: unknown } | { readonly type: 'error'; readonly error: SerializedError };

export const CANCELLED = 1;

/** Thrown by `ctx.throwIfCancelled()`; the orchestrator never surfaces it (the run already has its error). */
export class ChunkCancelled extends Error {
  constructor(index: number) {
    super(`chunk ${index} cancelled`);
    this.name = 'ChunkCancelled';
  }
}

export function chunkContext(index: number, cancel: Int32Array): ChunkContext {
  return {
    index,
    cancelled: () => Atomics.load(cancel, 0) === CANCELLED,
    throwIfCancelled: () => {
      if (Atomics.load(cancel, 0) === CANCELLED) throw new ChunkCancelled(index);
    },
    waitForCancel: (timeoutMs) => {
      Atomics.wait(cancel, 0, 0, timeoutMs);
      return Atomics.load(cancel, 0) === CANCELLED;
    },
  };
}
