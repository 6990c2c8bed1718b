// Orchestrator with real worker threads (compiled dist/, built by `npm test`): results in chunk order
// or as completed, worker writes land in the caller's memory (zero copy), only metadata is sent, the
// concurrency bound holds, and bad workers or params fail with coded errors before or while running.
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChunkFailedError,
  InlinePool,
  Orchestrator,
  SharedArray,
  assertNoPrivateBuffers,
  chunkRanges,
  createChunkPool,
  type ChunkPool,
  type ChunkTask,
  type Range,
} from '../dist/arrays/index.js';
// Errors are checked with dist's guard: the classes must be the ones the code under test threw.
import { isPlateflowError } from '../dist/errors.js';
import { FLAG, MAX_IN_FLIGHT, NO_EXPORT, SCRIPTED, STARTED, WRITE_INDEX, newBoard, type ScriptedChunk } from './fixtures/chunk-workers/board.js';

let pool: ReturnType<typeof createChunkPool>;
beforeAll(() => {
  pool = createChunkPool({ threads: 2 });
});
afterAll(async () => {
  await pool.close();
});

interface WriteResult {
  readonly index: number;
  readonly threadId: number;
}

describe('Orchestrator with worker threads', () => {
  it('workers write into the shared array and the caller sees it; results come back in chunk order', async () => {
    const array = SharedArray.create('int32', [1000]);
    const orch = new Orchestrator<Range, { base: number }, WriteResult>({ pool, array, worker: WRITE_INDEX });
    const chunks = chunkRanges(array.size, 64);
    const results = await orch.run(chunks, { base: 0 });
    expect(results.map((r) => r.index)).toEqual(chunks.map((_, i) => i));
    expect(results.every((r) => r.threadId !== threadId)).toBe(true); // ran off this thread
    for (const [i, c] of chunks.entries()) {
      expect(array.data[c.start]).toBe(i + 1);
      expect(array.data[c.end - 1]).toBe(i + 1);
    }
    expect(array.buffer.byteLength).toBe(4000); // shared, not transferred: never detached
  });

  it('completed() yields in completion order while run() keeps plan order', async () => {
    const array = SharedArray.create('uint8', [1]);
    const board = newBoard();
    // Chunk 0 cannot finish before the consumer has received chunk 1: the gate is a board flag that
    // the loop below sets, not a delay.
    const chunks: ScriptedChunk[] = [
      { id: 0, action: 'ok', waitFor: FLAG },
      { id: 1, action: 'ok' },
    ];
    const orch = new Orchestrator<ScriptedChunk, { board: Int32Array }, { id: number }>({ pool, array, worker: SCRIPTED, concurrency: 2 });
    const order: number[] = [];
    for await (const r of orch.completed(chunks, { board })) {
      order.push(r.index);
      expect(r.chunk).toEqual(chunks[r.index]);
      Atomics.store(board, FLAG, 1);
      Atomics.notify(board, FLAG);
    }
    expect(order).toEqual([1, 0]);

    const again = newBoard();
    Atomics.store(again, FLAG, 1); // open gate: now completion order is up to the scheduler
    expect((await orch.run(chunks, { board: again })).map((r) => r.id)).toEqual([0, 1]);
  });

  it('keeps at most `concurrency` chunks in flight', async () => {
    const array = SharedArray.create('uint8', [1]);
    const board = newBoard();
    const chunks: ScriptedChunk[] = Array.from({ length: 6 }, (_, id) => ({ id, action: 'ok' }));
    const orch = new Orchestrator({ pool, array, worker: SCRIPTED, concurrency: 1 });
    await orch.run(chunks, { board });
    expect(Atomics.load(board, STARTED)).toBe(6);
    expect(Atomics.load(board, MAX_IN_FLIGHT)).toBe(1);
  });

  it('sends only metadata: every task holds the same SharedArrayBuffer and no private buffer', async () => {
    const array = SharedArray.create('float32', [512, 512]); // 1 MiB of data
    const seen: ChunkTask[] = [];
    // Dependency injection makes the boundary observable: a pool that records what it is asked to send.
    const recording: ChunkPool = {
      maxThreads: 2,
      run: (task, options) => {
        seen.push(task);
        return pool.run(task, options);
      },
    };
    const orch = new Orchestrator({ pool: recording, array, worker: WRITE_INDEX });
    await orch.run(chunkRanges(array.size, 65_536), { base: 0 });
    expect(seen).toHaveLength(4);
    for (const task of seen) {
      expect(task.array.buffer).toBe(array.buffer);
      expect(task.cancel.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(() => assertNoPrivateBuffers(task, 'task')).not.toThrow();
      expect(Object.keys(task).sort()).toEqual(['array', 'cancel', 'chunk', 'index', 'params', 'type', 'worker']);
    }
  });

  it('rejects params or chunks holding non-shared buffers before running anything (they would be copied)', async () => {
    const array = SharedArray.create('uint8', [8]);
    const board = newBoard();
    const orch = new Orchestrator({ pool, array, worker: SCRIPTED });
    const bad = [
      () => orch.run([{ id: 0, action: 'ok' }], { board, lut: new Float32Array(256) }),
      () => orch.run([{ id: 0, action: 'ok', extra: { deep: [new ArrayBuffer(8)] } }], { board }),
    ];
    for (const run of bad) {
      await expect(run()).rejects.toSatisfy((e: unknown) => isPlateflowError(e, 'E_CHUNK_INVALID'));
    }
    expect(Atomics.load(board, STARTED)).toBe(0);
  });

  it('a worker module path that does not exist is rejected when the orchestrator is built', () => {
    const array = SharedArray.create('uint8', [8]);
    expect(() => new Orchestrator({ pool, array, worker: '/nonexistent/worker.js' })).toThrow(/not found/);
  });

  it('a module without processChunk fails its first chunk with E_CHUNK_FAILED naming the problem', async () => {
    const array = SharedArray.create('uint8', [8]);
    const orch = new Orchestrator({ pool, array, worker: NO_EXPORT });
    const err = await orch.run(chunkRanges(8, 4), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    expect((err as ChunkFailedError).code).toBe('E_CHUNK_FAILED');
    expect(((err as ChunkFailedError).cause as Error).message).toMatch(/does not export a processChunk/);
    expect(((err as ChunkFailedError).cause as { code?: string }).code).toBe('E_CHUNK_INVALID');
  });

  it('any injected piscina works, whatever its own default filename (tasks name the chunk entry)', async () => {
    const foreign = new Piscina({ maxThreads: 1 }); // no filename at all
    try {
      const array = SharedArray.create('int32', [10]);
      const orch = new Orchestrator<Range, { base: number }, WriteResult>({ pool: foreign, array, worker: WRITE_INDEX });
      await orch.run(chunkRanges(10, 5), { base: 100 });
      expect([array.data[0], array.data[9]]).toEqual([101, 102]);
    } finally {
      await foreign.close();
    }
  });

  it('InlinePool runs the same worker module in the calling thread', async () => {
    const array = SharedArray.create('int32', [100]);
    const orch = new Orchestrator<Range, { base: number }, WriteResult>({ pool: new InlinePool(), array, worker: WRITE_INDEX });
    const results = await orch.run(chunkRanges(100, 30), { base: 10 });
    expect(results.map((r) => r.threadId)).toEqual([threadId, threadId, threadId, threadId]);
    expect([array.data[0], array.data[99]]).toEqual([11, 14]);
  });

  it('an empty plan resolves to no results without touching the pool', async () => {
    const array = SharedArray.create('uint8', [0]);
    const never: ChunkPool = { run: () => Promise.reject(new Error('should not be called')) };
    expect(await new Orchestrator({ pool: never, array, worker: WRITE_INDEX }).run([], {})).toEqual([]);
  });
});
