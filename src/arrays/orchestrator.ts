/**
 * `Orchestrator`: runs a chunk worker over a plan of chunks of one shared array, in a pool it is given.
 *
 * Dependency injection as in MPAIO: the caller creates the pool and the shared array and passes them
 * in; the orchestrator owns neither and closes neither. What crosses to a worker per chunk is a task of
 * a few hundred bytes (array handle, chunk descriptor, params, the run's cancel cell) — never the data.
 * `params` and chunk descriptors are checked for non-shared binary data, which `postMessage` would copy.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChunkRun, type CompletedChunk } from './chunk-run.js';
import type { ArrayDType } from './dtype.js';
import { ChunkPlanError } from './errors.js';
import { CHUNK_ENTRY, type ChunkPool } from './pool.js';
import type { SharedArray } from './shared-array.js';

export type { CompletedChunk } from './chunk-run.js';

export interface OrchestratorOptions<D extends ArrayDType = ArrayDType> {
  /** Borrowed, never closed here. */
  readonly pool: ChunkPool;
  /** The array the chunks index into; workers receive it as `view`. */
  readonly array: SharedArray<D>;
  /** The chunk worker module (compiled JS): a file path or a `file:` URL. */
  readonly worker: string | URL;
  /** Chunks in the pool at once. @default pool.maxThreads ?? 1 */
  readonly concurrency?: number;
  /** How long a running chunk may take to notice a cancellation before its thread is terminated. @default 250 */
  readonly cancelGraceMs?: number;
}

export interface OrchestratorRunOptions {
  /** Aborting cancels the run: queued chunks never start, running ones are cancelled (see `cancelGraceMs`). */
  readonly signal?: AbortSignal;
}

function workerUrl(worker: string | URL): string {
  const url = worker instanceof URL ? worker : /^file:/.test(worker) ? new URL(worker) : pathToFileURL(path.resolve(worker));
  if (url.protocol !== 'file:') throw new ChunkPlanError(`chunk worker must be a file path or file: URL, got ${url.href}`);
  if (!existsSync(fileURLToPath(url))) throw new ChunkPlanError(`chunk worker module not found: ${fileURLToPath(url)}`, { worker: url.href });
  return url.href;
}

/**
 * Throws if `value` holds an `ArrayBuffer` or a view over one: a structured clone would copy it into
 * every task. Shared buffers (and handles holding them) are fine — they cross by reference.
 */
export function assertNoPrivateBuffers(value: unknown, where: string, seen = new Set<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof SharedArrayBuffer) return;
  if (value instanceof ArrayBuffer || (ArrayBuffer.isView(value) && !(value.buffer instanceof SharedArrayBuffer))) {
    throw new ChunkPlanError(
      `${where} holds a ${value.constructor.name} over a non-shared buffer, which would be copied into every task; put it in a SharedArray and pass its handle`,
      { jsonPath: where },
    );
  }
  if (ArrayBuffer.isView(value)) return;
  const entries: Iterable<[unknown, unknown]> =
    value instanceof Map ? value.entries() : value instanceof Set ? [...value].entries() : Object.entries(value);
  for (const [k, v] of entries) assertNoPrivateBuffers(v, `${where}.${String(k)}`, seen);
}

export class Orchestrator<C = unknown, P = unknown, R = unknown> {
  readonly #pool: ChunkPool;
  readonly #array: SharedArray;
  readonly #worker: string;
  readonly #concurrency: number;
  readonly #cancelGraceMs: number;

  /** @throws ChunkPlanError (`E_CHUNK_INVALID`) for a missing worker module or a bad option */
  constructor(options: OrchestratorOptions) {
    this.#pool = options.pool;
    this.#array = options.array;
    this.#worker = workerUrl(options.worker);
    this.#concurrency = options.concurrency ?? options.pool.maxThreads ?? 1;
    this.#cancelGraceMs = options.cancelGraceMs ?? 250;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new ChunkPlanError(`concurrency must be an integer ≥ 1, got ${String(this.#concurrency)}`);
    }
    if (!(Number.isFinite(this.#cancelGraceMs) && this.#cancelGraceMs >= 0)) {
      throw new ChunkPlanError(`cancelGraceMs must be a number ≥ 0, got ${String(this.#cancelGraceMs)}`);
    }
  }

  /**
   * Runs every chunk and resolves with their results in chunk order.
   * @throws ChunkFailedError (`E_CHUNK_FAILED`) for the first chunk that failed, with its error as `cause`;
   *   the other chunks are cancelled and have all settled when this rejects
   * @throws AbortError (`E_ABORTED`) if `signal` aborted first, with the abort reason as `cause`
   * @throws ChunkPlanError (`E_CHUNK_INVALID`) for params or chunks holding non-shared buffers
   */
  async run(chunks: readonly C[], params: P, options: OrchestratorRunOptions = {}): Promise<R[]> {
    const out = new Array<R>(chunks.length);
    for await (const r of this.completed(chunks, params, options)) out[r.index] = r.value;
    return out;
  }

  /**
   * Yields each chunk's result as it completes (not in plan order). Leaving the loop early (`break`,
   * `return`, an exception in the loop body) cancels the chunks still pending and waits for them to
   * settle. Errors as for `run`.
   */
  async *completed(chunks: readonly C[], params: P, options: OrchestratorRunOptions = {}): AsyncGenerator<CompletedChunk<C, R>, void, undefined> {
    if (!Array.isArray(chunks)) throw new ChunkPlanError('chunks must be an array of chunk descriptors');
    assertNoPrivateBuffers(params, 'params');
    chunks.forEach((c, i) => assertNoPrivateBuffers(c, `chunks[${i}]`));
    const run = new ChunkRun<C, R>({
      pool: this.#pool,
      entry: CHUNK_ENTRY,
      base: { type: 'chunk', worker: this.#worker, array: this.#array.handle(), params },
      chunks,
      concurrency: this.#concurrency,
      cancelGraceMs: this.#cancelGraceMs,
      signal: options.signal,
    });
    try {
      for (;;) {
        const r = await run.next();
        if (r === undefined) return;
        yield r;
      }
    } finally {
      await run.close();
    }
  }
}

/** The orchestrator type for a worker module: `OrchestratorFor<typeof import('./my-worker.js')>`. */
export type OrchestratorFor<M> = M extends { readonly processChunk: (view: never, chunk: infer C, params: infer P, ctx: never) => infer R }
  ? Orchestrator<C, P, Awaited<R>>
  : never;
