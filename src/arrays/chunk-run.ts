/**
 * The engine behind `Orchestrator`: one run of a chunk plan. Not exported from the folder index; the
 * facade in `orchestrator.ts` validates inputs and owns the public contract.
 *
 * Invariants:
 * - at most `concurrency` chunks are in the pool at once; the rest wait here, so cancelling them is
 *   just not submitting them (no queue to drain, no task to abort);
 * - `#stopped` flips once (first error, caller's abort, or consumer stops early) and never back; after
 *   it, no chunk is submitted and every later reply or rejection is ignored, so the error the caller
 *   sees is the one that stopped the run, not the cancellations it caused;
 * - `close()` resolves only when every submitted chunk has settled: after a run rejects, no chunk of
 *   it is still writing into shared memory (structured concurrency, as MPAIO gets from anyio).
 */
import { AbortError } from '../errors.js';
import { CANCELLED, type ChunkReply, type ChunkTask } from './chunk-worker.js';
import { ChunkFailedError, reviveError } from './errors.js';
import type { ChunkPool } from './pool.js';

export interface CompletedChunk<C, R> {
  /** Position of the chunk in the plan. */
  readonly index: number;
  readonly chunk: C;
  readonly value: R;
}

export interface ChunkRunSpec<C> {
  readonly pool: ChunkPool;
  readonly entry: string;
  readonly base: Omit<ChunkTask, 'index' | 'chunk' | 'cancel'>;
  readonly chunks: readonly C[];
  readonly concurrency: number;
  readonly cancelGraceMs: number;
  readonly signal: AbortSignal | undefined;
}

interface InFlight {
  readonly controller: AbortController;
  readonly settled: Promise<void>;
}

function isReply(x: unknown): x is ChunkReply {
  return typeof x === 'object' && x !== null && ((x as ChunkReply).type === 'result' || (x as ChunkReply).type === 'error');
}

export class ChunkRun<C, R> {
  readonly #spec: ChunkRunSpec<C>;
  /** Shared with every task of this run: a worker sees cancellation with one atomic load. */
  readonly #cancel = new Int32Array(new SharedArrayBuffer(4));
  readonly #inFlight = new Map<number, InFlight>();
  /** Completed, not yet consumed; a FIFO with a moving head (no `shift()` on long plans). */
  #ready: (CompletedChunk<C, R> | undefined)[] = [];
  #readyHead = 0;
  #next = 0;
  #stopped = false;
  #failed = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => this.#fail(new AbortError(this.#spec.signal?.reason));

  constructor(spec: ChunkRunSpec<C>) {
    this.#spec = spec;
    if (spec.signal?.aborted) {
      this.#fail(new AbortError(spec.signal.reason));
      return;
    }
    spec.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#pump();
  }

  /** The next completed chunk, `undefined` when all are done; throws the error that stopped the run. */
  async next(): Promise<CompletedChunk<C, R> | undefined> {
    for (;;) {
      if (this.#failed) throw this.#error;
      if (this.#readyHead < this.#ready.length) {
        const r = this.#ready[this.#readyHead]!;
        this.#ready[this.#readyHead++] = undefined;
        if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
          this.#ready = this.#ready.slice(this.#readyHead);
          this.#readyHead = 0;
        }
        return r;
      }
      if (this.#stopped || (this.#next >= this.#spec.chunks.length && this.#inFlight.size === 0)) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Cancels whatever is left and resolves once every submitted chunk has settled. Idempotent. */
  async close(): Promise<void> {
    this.#stop();
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()].map((f) => f.settled));
    clearTimeout(this.#graceTimer);
    this.#spec.signal?.removeEventListener('abort', this.#onAbort);
  }

  #pump(): void {
    const { chunks, concurrency } = this.#spec;
    while (!this.#stopped && this.#inFlight.size < concurrency && this.#next < chunks.length) this.#launch(this.#next++);
  }

  #launch(index: number): void {
    const { pool, entry, base, chunks } = this.#spec;
    const controller = new AbortController();
    const task: ChunkTask = { ...base, index, chunk: chunks[index], cancel: this.#cancel };
    let running: Promise<unknown>;
    try {
      running = pool.run(task, { signal: controller.signal, filename: entry });
    } catch (err) {
      running = Promise.reject(err);
    }
    const settled = running.then(
      (reply) => this.#settle(index, reply, undefined),
      (err: unknown) => this.#settle(index, undefined, err ?? new Error('pool rejected the task without a reason')),
    );
    this.#inFlight.set(index, { controller, settled });
  }

  #settle(index: number, reply: unknown, rejection: unknown): void {
    this.#inFlight.delete(index);
    if (!this.#stopped) {
      const worker = this.#spec.base.worker;
      if (rejection !== undefined) this.#fail(new ChunkFailedError(index, worker, rejection));
      else if (!isReply(reply)) this.#fail(new ChunkFailedError(index, worker, new Error('the pool returned something that is not a chunk reply')));
      else if (reply.type === 'error') this.#fail(new ChunkFailedError(index, worker, reviveError(reply.error)));
      else {
        this.#ready.push({ index, chunk: this.#spec.chunks[index]!, value: reply.value as R });
        this.#pump();
      }
    }
    this.#wakeUp();
  }

  #fail(err: unknown): void {
    if (this.#stopped) return;
    this.#failed = true;
    this.#error = err;
    this.#stop();
  }

  /**
   * Cooperative first: chunks polling `ctx.cancelled()` stop at their next check and their threads stay
   * warm. A chunk still running after the grace period is aborted through its pool signal, which makes
   * piscina terminate (and replace) its thread, so a chunk that never checks cannot hang the run.
   */
  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    Atomics.store(this.#cancel, 0, CANCELLED);
    Atomics.notify(this.#cancel, 0);
    if (this.#inFlight.size > 0) {
      this.#graceTimer = setTimeout(() => {
        for (const f of this.#inFlight.values()) f.controller.abort(new Error('chunk did not stop within the cancel grace period'));
      }, this.#spec.cancelGraceMs);
    }
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
