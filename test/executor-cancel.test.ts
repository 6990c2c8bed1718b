/**
 * Cancellation with real workers (threads, processes, subprocess): abort while tasks run and wait
 * in the queue, abort during a graceful close(), close({ force }), run after close, and an outside
 * SIGKILL of a worker. Tasks spin on the CPU, so only killing their worker can stop them; "running"
 * is known from files the tasks write, never from sleeps.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExecutor, type ExecutorKind } from '../dist/execution/executors/index.js';
import type { TaskPlan } from '../dist/compiler/plan.js';
import type { TaskResult } from '../dist/execution/result.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import { byWell, isGone, misbehaving, pidRecorder, plansFor, readPid, tinyPlate, waitForFile } from './executor-harness.js';
import { tempDir } from './helpers.js';

let dir: string;
let plate: PlateIndex;
let counter = 0;

beforeAll(async () => {
  dir = await tempDir('plateflow-cancel-');
  plate = await tinyPlate(path.join(dir, 'plate'), 4);
});

/** Plans whose tasks announce themselves in a fresh folder and then spin (`well` = '*' for all). */
async function spinning(well: string): Promise<{ plans: TaskPlan[]; announce: string }> {
  const announce = path.join(dir, `announce-${counter++}`);
  await mkdir(announce);
  const plans = await plansFor(misbehaving(['./spin-on-well.mjs'], [['spin_on_well', { well, announce }]]), plate, path.join(dir, `out-${counter}`));
  return { plans, announce };
}

const KINDS: ExecutorKind[] = ['threads', 'processes', 'subprocess'];

describe.each(KINDS)('%s executor', (kind) => {
  it('abort: running tasks are killed (cancelled, with the reason as cause), queued ones never start', async () => {
    const { plans, announce } = await spinning('*');
    const executor = createExecutor(kind, { workers: 2, cpus: 2, forwardOutput: false, retries: 0 });
    const controller = new AbortController();
    const recorder = pidRecorder();
    const done = executor.run(plans, { signal: controller.signal, onEvent: recorder.onEvent });
    await Promise.all(['A01', 'A02'].map((w) => waitForFile(path.join(announce, `${w}.started`))));
    const aborted = performance.now();
    controller.abort(new Error('interrupted by test'));
    const results = byWell(await done);
    expect(performance.now() - aborted).toBeLessThan(1000);
    for (const w of ['A01', 'A02']) {
      expect(results[w]).toMatchObject({ status: 'cancelled', error: { code: 'E_ABORTED', cause: { message: 'interrupted by test' } } });
    }
    for (const w of ['A03', 'A04']) expect(results[w]!.error?.message).toMatch(/run cancelled before this task started: interrupted by test/);
    await executor.close();
    for (const pid of recorder.pids) expect(isGone(pid)).toBe(true);
  });

  it('abort during a graceful close(): close waits for the run, the abort ends it, every worker exits', async () => {
    const { plans, announce } = await spinning('A01');
    const executor = createExecutor(kind, { workers: 2, cpus: 2, forwardOutput: false, timeoutMs: 60_000 });
    const controller = new AbortController();
    const recorder = pidRecorder();
    let healthyDone!: () => void;
    const othersFinished = new Promise<void>((resolve) => (healthyDone = resolve));
    let finished = 0;
    const done = executor.run(plans, {
      signal: controller.signal,
      onEvent: (e) => {
        recorder.onEvent(e);
        if (e.type === 'task:done' && ++finished === 3) healthyDone();
      },
    });
    await Promise.all([waitForFile(path.join(announce, 'A01.started')), othersFinished]);
    let closed = false;
    const closing = executor.close().then(() => (closed = true));
    await expect(executor.run(plans)).rejects.toMatchObject({ name: 'ExecutorClosedError', code: 'E_ABORTED' });
    expect(closed).toBe(false);
    controller.abort('stop');
    const results = byWell(await done);
    await closing;
    expect(results.A01!.status).toBe('cancelled');
    expect(Object.values(results).filter((r) => r.status === 'ok').length, JSON.stringify(results)).toBe(3);
    for (const pid of recorder.pids) expect(isGone(pid)).toBe(true);
  });

  it('close({ force: true }) stops running tasks and kills every worker', async () => {
    const { plans, announce } = await spinning('*');
    const executor = createExecutor(kind, { workers: 2, cpus: 2, forwardOutput: false, timeoutMs: 60_000 });
    const recorder = pidRecorder();
    const done = executor.run(plans, { onEvent: recorder.onEvent });
    await Promise.all(['A01', 'A02'].map((w) => waitForFile(path.join(announce, `${w}.started`))));
    await executor.close({ force: true });
    const results: TaskResult[] = [...(await done).values()];
    expect(results.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(results.find((r) => r.axis.well === 'A01')!.error).toMatchObject({ cause: { name: 'ExecutorClosedError' } });
    for (const pid of recorder.pids) expect(isGone(pid)).toBe(true);
  });
});

describe.each(['processes', 'subprocess'] as const)('%s: a worker SIGKILLed from outside', (kind) => {
  it('fails only its task, as killed by SIGKILL (not called an OOM kill without evidence), within 1 s; the pool carries on', async () => {
    const { plans, announce } = await spinning('A01');
    const executor = createExecutor(kind, { workers: 2, cpus: 2, forwardOutput: false });
    let killedAt = 0;
    let surfacedAt = 0;
    const done = executor.run(plans, {
      onEvent: (e) => {
        if (e.type === 'task:done' && e.result.axis.well === 'A01') surfacedAt = performance.now();
      },
    });
    const marker = path.join(announce, 'A01.started');
    await waitForFile(marker);
    const pid = readPid(marker);
    killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const results = byWell(await done);
    await executor.close();
    expect(results.A01).toMatchObject({ status: 'killed', error: { code: 'E_TASK_KILLED', context: { reason: 'signal', signal: 'SIGKILL', pid } } });
    // No memory pressure here: the cgroup's OOM-kill count did not rise (or there is none to read).
    expect(results.A01!.error!.message).toMatch(/^killed by signal 9 \(SIGKILL\): (not the out-of-memory killer|whether the out-of-memory killer sent it is unknown)/);
    expect(surfacedAt - killedAt).toBeLessThan(1000);
    for (const w of ['A02', 'A03', 'A04']) expect(results[w]!.status).toBe('ok');
    expect(isGone(pid)).toBe(true);
  });
});
