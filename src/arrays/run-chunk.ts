/**
 * Runs one `ChunkTask` in the current thread: load the worker module (once per thread), rebuild the
 * array from its handle (a view, no copy), call `processChunk`, and turn the outcome into a
 * `ChunkReply`. Shared by the piscina entry (`chunk-entry.ts`) and the in-thread `InlinePool`.
 */
import { serializeError } from '../errors.js';
import { chunkContext, type ChunkReply, type ChunkTask, type ChunkWorkerModule } from './chunk-worker.js';
import { ChunkPlanError } from './errors.js';
import { SharedArray } from './shared-array.js';

// Modules are loaded once per thread and kept; the cap only guards against a caller that generates
// module URLs (piscina caps its handler cache the same way).
const MODULE_CACHE_LIMIT = 256;
const modules = new Map<string, Promise<ChunkWorkerModule>>();

function loadWorker(url: string): Promise<ChunkWorkerModule> {
  let mod = modules.get(url);
  if (mod === undefined) {
    mod = import(url).then((m: Partial<ChunkWorkerModule>) => {
      if (typeof m.processChunk !== 'function') {
        throw new ChunkPlanError(`chunk worker ${url} does not export a processChunk function`, { worker: url });
      }
      return m as ChunkWorkerModule;
    });
    // A failed import is not cached, so a fixed file can be retried without restarting the pool.
    mod.catch(() => modules.delete(url));
    if (modules.size >= MODULE_CACHE_LIMIT) modules.delete(modules.keys().next().value!);
    modules.set(url, mod);
  }
  return mod;
}

export async function runChunkTask(task: ChunkTask): Promise<ChunkReply> {
  try {
    const mod = await loadWorker(task.worker);
    const view = SharedArray.fromHandle(task.array);
    const value = await mod.processChunk(view, task.chunk, task.params, chunkContext(task.index, task.cancel));
    return { type: 'result', value };
  } catch (err) {
    return { type: 'error', error: serializeError(err) };
  }
}
