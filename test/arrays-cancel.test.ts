// Cancellation with real worker threads: the first failing chunk cancels the others and is the error
// surfaced; an AbortSignal aborted before start or while chunks run; leaving completed() early; and a
// chunk that ignores cancellation is terminated after the grace period. Every step is sequenced through
// the fixture's shared board (Atomics), so no test depends on timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkFailedError, Orchestrator, SharedArray, createChunkPool } from '../dist/arrays/index.js';
import { isPlateflowError } from '../dist/errors.js';
import { CANCEL_SEEN, FLAG, IN_FLIGHT, SCRIPTED, SETTLED, STARTED, newBoard, waitForSlot, type ScriptedChunk } from './fixtures/chunk-workers/board.js';

let pool: ReturnType<typeof createChunkPool>;
beforeAll(() => {
  pool = createChunkPool({ threads: 2 });
});
afterAll(async () => {
  await pool.close();
});

type Params = { board: Int32Array };
const array = SharedArray.create('uint8', [1]);
const orchestrator = (cancelGraceMs?: number) =>
  new Orchestrator<ScriptedChunk, Params, unknown>({ pool, array, worker: SCRIPTED, concurrency: 2, ...(cancelGraceMs !== undefined ? { cancelGraceMs } : {}) });
const oks = (from: number, to: number): ScriptedChunk[] => Array.from({ length: to - from }, (_, k) => ({ id: from + k, action: 'ok' }));

describe('an error in one chunk', () => {
  // Chunk 0 blocks until cancelled; chunk 1 fails only once chunk 0 is running; chunks 2..7 would succeed.
  const plan: ScriptedChunk[] = [{ id: 0, action: 'block', set: FLAG }, { id: 1, action: 'fail', waitFor: FLAG }, ...oks(2, 8)];

  it('cancels the running and pending chunks and surfaces that error (run)', async () => {
    const board = newBoard();
    const err = await orchestrator().run(plan, { board }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    const failed = err as ChunkFailedError;
    expect(failed.code).toBe('E_CHUNK_FAILED');
    expect(failed.context.chunk).toBe(1);
    expect(failed.message).toMatch(/chunk 1 .*fixture failure in chunk 1/);
    const cause = failed.cause as Error & { code?: string };
    expect([cause.name, cause.code, cause.message]).toEqual(['FixtureError', 'E_FIXTURE', 'fixture failure in chunk 1']);
    expect(cause.stack).toMatch(/scripted\.mjs/); // the worker's stack, not ours
    // When run() rejects, everything it started has finished: nothing still writes to shared memory.
    expect(Atomics.load(board, STARTED)).toBe(2);
    expect(Atomics.load(board, SETTLED)).toBe(2);
    expect(Atomics.load(board, IN_FLIGHT)).toBe(0);
    expect(Atomics.load(board, CANCEL_SEEN)).toBe(1); // chunk 0 saw the cancellation (cooperative)
  });

  it('ends completed() with the same error', async () => {
    const board = newBoard();
    const got: number[] = [];
    const consume = async () => {
      for await (const r of orchestrator().completed(plan, { board })) got.push(r.index);
    };
    await expect(consume()).rejects.toSatisfy((e: unknown) => isPlateflowError(e, 'E_CHUNK_FAILED') && e.context.chunk === 1);
    expect(got).toEqual([]);
    expect(Atomics.load(board, STARTED)).toBe(2);
  });

  it('a chunk that ignores cancellation is terminated after the grace period; the pool recovers', async () => {
    const board = newBoard();
    const hangPlan: ScriptedChunk[] = [{ id: 0, action: 'hang', set: FLAG }, { id: 1, action: 'fail', waitFor: FLAG }];
    const err = await orchestrator(20).run(hangPlan, { board }).catch((e: unknown) => e);
    expect(isPlateflowError(err, 'E_CHUNK_FAILED') && err.context.chunk === 1).toBe(true);
    expect(Atomics.load(board, SETTLED)).toBe(1); // the hung chunk never returned: its thread was killed
    const again = newBoard();
    expect(await orchestrator().run(oks(0, 4), { board: again })).toHaveLength(4);
  });
});

describe('AbortSignal', () => {
  it('already aborted: rejects with E_ABORTED carrying the reason, and starts nothing', async () => {
    const board = newBoard();
    const controller = new AbortController();
    const reason = new Error('user pressed ctrl-c');
    controller.abort(reason);
    const err = await orchestrator().run(oks(0, 4), { board }, { signal: controller.signal }).catch((e: unknown) => e);
    expect(isPlateflowError(err, 'E_ABORTED')).toBe(true);
    expect((err as Error).cause).toBe(reason);
    expect(Atomics.load(board, STARTED)).toBe(0);
  });

  it('while chunks run: running chunks are cancelled, queued ones never start', async () => {
    const board = newBoard();
    const controller = new AbortController();
    const plan: ScriptedChunk[] = [{ id: 0, action: 'block', set: FLAG }, { id: 1, action: 'block', set: FLAG + 1 }, ...oks(2, 6)];
    const running = orchestrator().run(plan, { board }, { signal: controller.signal });
    await waitForSlot(board, FLAG);
    await waitForSlot(board, FLAG + 1);
    const reason = new Error('stop');
    controller.abort(reason);
    const err = await running.catch((e: unknown) => e);
    expect(isPlateflowError(err, 'E_ABORTED')).toBe(true);
    expect((err as Error).cause).toBe(reason);
    expect(Atomics.load(board, STARTED)).toBe(2);
    expect(Atomics.load(board, CANCEL_SEEN)).toBe(2);
    expect(Atomics.load(board, SETTLED)).toBe(2);
  });

  it('one signal shared by two runs cancels both', async () => {
    const [a, b] = [newBoard(), newBoard()];
    const controller = new AbortController();
    const plan: ScriptedChunk[] = [{ id: 0, action: 'block', set: FLAG }, ...oks(1, 3)];
    const one = new Orchestrator<ScriptedChunk, Params, unknown>({ pool, array, worker: SCRIPTED, concurrency: 1 });
    const runs = [one.run(plan, { board: a }, { signal: controller.signal }), one.run(plan, { board: b }, { signal: controller.signal })];
    await waitForSlot(a, FLAG);
    await waitForSlot(b, FLAG);
    controller.abort();
    const errs = await Promise.all(runs.map((r) => r.catch((e: unknown) => e)));
    expect(errs.every((e) => isPlateflowError(e, 'E_ABORTED'))).toBe(true);
    expect([Atomics.load(a, STARTED), Atomics.load(b, STARTED)]).toEqual([1, 1]);
  });
});

describe('leaving completed() early', () => {
  it('cancels the chunks still pending and waits for them before the loop exits', async () => {
    const board = newBoard();
    const plan: ScriptedChunk[] = [{ id: 0, action: 'ok' }, { id: 1, action: 'block' }, ...oks(2, 6)];
    const seen: number[] = [];
    for await (const r of orchestrator().completed(plan, { board })) {
      seen.push(r.index);
      break;
    }
    expect(seen).toEqual([0]);
    expect(Atomics.load(board, SETTLED)).toBe(Atomics.load(board, STARTED));
    expect(Atomics.load(board, IN_FLIGHT)).toBe(0);
    expect(Atomics.load(board, CANCEL_SEEN)).toBe(1); // the blocked chunk 1 was cancelled
    expect(Atomics.load(board, STARTED)).toBeLessThanOrEqual(3); // at most one ok chunk took chunk 0's slot
  });
});
