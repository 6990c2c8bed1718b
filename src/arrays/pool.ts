/**
 * What the orchestrator needs from a pool, and the two pools we ship.
 *
 * The orchestrator is handed its pool (dependency injection, as in MPAIO): a piscina instance made by
 * `createChunkPool`, any piscina instance the application already has (tasks name our entry file per
 * call, so the pool's own `filename` does not matter), or `InlinePool` to run chunks in this thread.
 * The caller owns the pool and closes it; the orchestrator never does.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ChunkTask } from './chunk-worker.js';
import { ChunkPlanError } from './errors.js';
import { runChunkTask } from './run-chunk.js';

export interface ChunkPoolRunOptions {
  /** Aborting it removes a queued task, or terminates the thread running it (piscina's semantics). */
  readonly signal: AbortSignal;
  /** The worker entry file; piscina uses it instead of the pool's default `filename`. */
  readonly filename: string;
}

/** The part of piscina's API the orchestrator uses; a `Piscina` satisfies it as is. */
export interface ChunkPool {
  run(task: ChunkTask, options: ChunkPoolRunOptions): Promise<unknown>;
  /** Threads the pool may run at once; the orchestrator keeps this many chunks in flight by default. */
  readonly maxThreads?: number;
}

/** Path of the compiled worker entry next to this file (dist/arrays/chunk-entry.js). */
export const CHUNK_ENTRY = fileURLToPath(new URL('./chunk-entry.js', import.meta.url));

export interface ChunkPoolOptions {
  /** Worker threads, started at once and kept (default 1). */
  readonly threads?: number;
}

/**
 * A piscina pool of `threads` worker threads whose default task is the chunk entry. Threads start
 * eagerly (`minThreads = maxThreads`) so the first chunks do not pay for thread start-up, and idle
 * threads block in `Atomics.wait` (piscina's default) rather than polling.
 * @throws ChunkPlanError (`E_CHUNK_INVALID`) if `threads` is not an integer ≥ 1
 */
export function createChunkPool(options: ChunkPoolOptions = {}): Piscina {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new ChunkPlanError(`threads must be an integer ≥ 1, got ${String(threads)}`);
  return new Piscina({ filename: CHUNK_ENTRY, minThreads: threads, maxThreads: threads, idleTimeout: Number.POSITIVE_INFINITY });
}

/**
 * Runs chunks one at a time in the calling thread, through the same code path as a worker. For
 * single-threaded references, small arrays, and environments without worker threads. A running chunk
 * cannot be interrupted (it holds the thread); cancellation takes effect between chunks.
 */
export class InlinePool implements ChunkPool {
  readonly maxThreads = 1;

  async run(task: ChunkTask, options: ChunkPoolRunOptions): Promise<unknown> {
    options.signal.throwIfAborted();
    return runChunkTask(task);
  }
}
