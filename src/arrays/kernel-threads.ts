/**
 * The chunk threads of one task worker (a worker thread or a worker process), which built-in
 * kernels use to run tiled over one large image when the worker was given more than one thread.
 *
 * Created on first use, kept for every later task of the worker, closed with it (or with the
 * process: idle piscina threads do not keep a process alive, and nested worker threads end with the
 * thread that started them). The shared scratch arrays are kept too: task images live in ordinary
 * ArrayBuffers that other threads cannot see, so a tiled kernel copies its input into shared memory
 * and its result back out; reusing that memory avoids first-touching ~100 MiB per 4096² call.
 */
import { existsSync } from 'node:fs';
import type { Piscina } from 'piscina';
import { ConfigError } from '../errors.js';
import type { ArrayDType } from './dtype.js';
import { bytesPerElement } from './dtype.js';
import { CHUNK_ENTRY, createChunkPool, type ChunkPool } from './pool.js';
import { SharedArray } from './shared-array.js';

/** Chunk threads a tiled kernel may keep busy, and the pool they run in. */
export interface KernelLanes {
  readonly pool: ChunkPool;
  /** Compute threads for this call: at most the worker's share of the run's CPUs. */
  readonly concurrency: number;
  /** A shared array over this worker's scratch memory for `slot`, valid until the next call for that slot. */
  scratch<D extends ArrayDType>(slot: string, dtype: D, shape: readonly number[]): SharedArray<D>;
}

/**
 * Planes below this many pixels are not worth tiling: thread hand-offs and the copies in and out of
 * shared memory cost more than a second core saves. Measured with `gaussian_blur` σ 2 on uint16 on
 * the project's 2-core machine (never idle while measured, so noisy): 2 threads lost to 1 up to
 * 1536² in every sweep, and won (×1.2) from 2048² in the least contended one.
 * `PLATEFLOW_TILE_MIN_PIXELS` overrides it.
 */
export const DEFAULT_TILE_MIN_PIXELS = 2048 * 2048;

let pool: Piscina | undefined;
let poolThreads = 0;
const scratch = new Map<string, SharedArrayBuffer>();

/** The plane size from which built-ins run tiled, from `PLATEFLOW_TILE_MIN_PIXELS` or the default. */
export function tileMinPixels(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PLATEFLOW_TILE_MIN_PIXELS;
  if (raw === undefined || raw === '') return DEFAULT_TILE_MIN_PIXELS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`PLATEFLOW_TILE_MIN_PIXELS must be a positive integer (pixels per plane), got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Lanes for a kernel allowed `threads` compute threads (the calling thread waits meanwhile), or
 * undefined when it should run untiled: fewer than 2 threads, or no compiled chunk entry (running
 * from TypeScript sources, where worker threads cannot load the chunk workers).
 */
export function kernelLanes(threads: number): KernelLanes | undefined {
  if (!(Number.isInteger(threads) && threads >= 2) || !chunkEntryBuilt()) return undefined;
  if (pool === undefined || poolThreads < threads) {
    // A larger share than before (a later run with fewer tasks): replace the pool; the old one has
    // no chunk in flight, since kernels of one worker run one at a time.
    void pool?.destroy();
    pool = createChunkPool({ threads });
    poolThreads = threads;
  }
  return { pool, concurrency: threads, scratch: scratchArray };
}

let entryBuilt: boolean | undefined;
/** Whether the compiled chunk entry exists; asked once per worker, not on every kernel call. */
function chunkEntryBuilt(): boolean {
  entryBuilt ??= existsSync(CHUNK_ENTRY);
  return entryBuilt;
}

function scratchArray<D extends ArrayDType>(slot: string, dtype: D, shape: readonly number[]): SharedArray<D> {
  const bytes = shape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype);
  let buffer = scratch.get(slot);
  if (buffer === undefined || buffer.byteLength < bytes) {
    buffer = new SharedArrayBuffer(bytes);
    scratch.set(slot, buffer);
  }
  return SharedArray.fromHandle({ buffer, dtype, shape, byteOffset: 0 });
}

/** Ends this worker's chunk threads and drops its scratch memory; the next tiled call starts afresh. */
export async function closeKernelThreads(): Promise<void> {
  const closing = pool;
  pool = undefined;
  poolThreads = 0;
  scratch.clear();
  await closing?.destroy();
}

/** Whether this worker has chunk threads running (for tests). */
export function kernelThreadCount(): number {
  return poolThreads;
}
