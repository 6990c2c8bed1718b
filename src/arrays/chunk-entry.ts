/**
 * The worker-thread entry of a chunk pool, loaded by path (piscina's `filename`); never import it
 * from library code. It only forwards to `runChunkTask`, so it stays free of CLI, report and pool
 * code and each worker thread loads as little as possible.
 */
import type { ChunkReply, ChunkTask } from './chunk-worker.js';
import { runChunkTask } from './run-chunk.js';

export default function chunkEntry(task: ChunkTask): Promise<ChunkReply> {
  return runChunkTask(task);
}
