/**
 * The dispatch engine with a scripted in-memory runner: ordering, concurrency, timeouts, the
 * cancellation edge cases (before start, queued, running, shared signal), fail-fast, retries and
 * GPU slots, without starting any worker.
 */
import { describe, expect, it } from 'vitest';
import type { TaskPlan } from '../src/compiler/plan.js';
import type { RunEvent } from '../src/execution/executor.js';
import { Dispatcher, dispatch, type Attempt, type DispatchOptions, type TaskRunner } from '../src/execution/executors/dispatch.js';
import { GpuSlots } from '../src/execution/resources/gpu-slots.js';
import type { TaskResult, TaskStatus } from '../src/execution/result.js';
import { fakePlan } from './executor-fake-plan.js';

interface Call {
  readonly plan: TaskPlan;
  readonly attempt: Attempt;
  finish(status?: TaskStatus): void;
}

/** A runner whose tasks end only when the test says so; `started(n)` resolves once n tasks have started. */
function scripted(script?: (plan: TaskPlan, attempt: number) => TaskStatus | undefined) {
  const calls: Call[] = [];
  let running = 0;
  let maxRunning = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const runner: TaskRunner = {
    run(plan, attempt) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      let settle!: (r: TaskResult) => void;
      const result = new Promise<TaskResult>((r) => (settle = r));
      const finish = (status: TaskStatus = 'ok') => {
        running--;
        settle({ taskId: plan.taskId, axis: plan.axis, status, seconds: 0, images: 0, outputs: [], measurements: [], ...(status === 'ok' ? {} : { error: { name: 'Error', message: status } }) });
      };
      attempt.signal.addEventListener('abort', () => finish('cancelled'));
      calls.push({ plan, attempt, finish });
      const scriptedStatus = script?.(plan, attempt.attempt);
      if (scriptedStatus) queueMicrotask(() => finish(scriptedStatus));
      for (const w of waiters.splice(0)) (calls.length >= w.n ? w.resolve : () => waiters.push(w))();
      return { worker: calls.length, result };
    },
  };
  return {
    runner,
    calls,
    get maxRunning() {
      return maxRunning;
    },
    started: (n: number) => new Promise<void>((resolve) => (calls.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

const plans = (n: number, weight = (i: number) => 1) => Array.from({ length: n }, (_, i) => fakePlan(`t${i}`, weight(i)));
const run = (ps: readonly TaskPlan[], runner: TaskRunner, options: Partial<DispatchOptions> = {}) => dispatch(ps, runner, { concurrency: 2, ...options });

describe('dispatch', () => {
  it('runs every task once, never more than `concurrency` at a time, largest first', async () => {
    const s = scripted(() => 'ok');
    const results = await run(plans(20, (i) => (i % 5) + 1), s.runner, { concurrency: 3 });
    expect(results.size).toBe(20);
    expect([...results.values()].every((r) => r.status === 'ok' && r.attempts === 1)).toBe(true);
    expect(s.maxRunning).toBeLessThanOrEqual(3);
    const weights = s.calls.map((c) => c.plan.resources.weight);
    expect(weights.slice(0, 4)).toEqual([5, 5, 5, 5]);
    expect(weights.at(-1)).toBe(1);
  });

  it('times out a task that never answers, kills its worker and goes on', async () => {
    const s = scripted((plan) => (plan.taskId === 't0' ? undefined : 'ok'));
    const results = await run(plans(3), s.runner, { timeoutMs: 50 });
    const t0 = results.get('t0')!;
    expect(t0.status).toBe('timeout');
    expect(t0.error).toMatchObject({ code: 'E_TASK_TIMEOUT', message: 'timed out after 50 ms' });
    expect(t0.seconds).toBeGreaterThanOrEqual(0.045);
    expect(t0.seconds).toBeLessThan(0.15);
    expect(s.calls[0]!.attempt.signal.aborted).toBe(true);
    expect(results.get('t1')!.status).toBe('ok');
  });

  it('a signal aborted before the run starts nothing', async () => {
    const s = scripted(() => 'ok');
    const results = await run(plans(3), s.runner, { signal: AbortSignal.abort(new Error('too late')) });
    expect(s.calls).toHaveLength(0);
    expect([...results.values()].map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(results.get('t0')!.error?.message).toMatch(/run cancelled before this task started: too late/);
  });

  it('aborting mid-run cancels queued tasks and kills running ones, with the reason as cause', async () => {
    const s = scripted();
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const done = run(plans(5), s.runner, { signal: controller.signal, onEvent: (e) => events.push(e) });
    await s.started(2);
    s.calls[0]!.finish('ok');
    await s.started(3);
    controller.abort(new Error('Ctrl-C'));
    const results = await done;
    expect(results.get('t0')!.status).toBe('ok');
    for (const id of ['t1', 't2']) {
      const r = results.get(id)!;
      expect(r.status).toBe('cancelled');
      expect(r.error).toMatchObject({ code: 'E_ABORTED', message: 'aborted: Ctrl-C', cause: { message: 'Ctrl-C' } });
    }
    expect(s.calls.slice(1).every((c) => c.attempt.signal.aborted)).toBe(true);
    for (const id of ['t3', 't4']) expect(results.get(id)!.error?.message).toMatch(/before this task started: Ctrl-C/);
    expect(s.calls).toHaveLength(3);
    expect(events.filter((e) => e.type === 'task:done')).toHaveLength(5);
  });

  it('one signal shared by two runs cancels both', async () => {
    const a = scripted();
    const b = scripted();
    const controller = new AbortController();
    const runs = Promise.all([run(plans(3), a.runner, { signal: controller.signal }), run(plans(3), b.runner, { signal: controller.signal })]);
    await Promise.all([a.started(2), b.started(2)]);
    controller.abort('stop');
    const [ra, rb] = await runs;
    for (const r of [...ra.values(), ...rb.values()]) expect(r.status).toBe('cancelled');
  });

  it('fail-fast stops dispatch after the first failure and lets running tasks finish', async () => {
    const s = scripted();
    const done = run(plans(6), s.runner, { failFast: true });
    await s.started(2);
    s.calls[0]!.finish('error');
    await Promise.resolve();
    s.calls[1]!.finish('ok');
    const results = await done;
    expect(results.get('t0')!.status).toBe('error');
    expect(results.get('t1')!.status).toBe('ok');
    expect(s.calls).toHaveLength(2);
    for (const id of ['t2', 't3', 't4', 't5']) expect(results.get(id)!.error?.message).toMatch(/fail-fast after task t0 ended error/);
  });

  it('retries killed and timed-out tasks with backoff, but not errors unless asked', async () => {
    const s = scripted((plan, attempt) => (plan.taskId === 't0' ? (attempt < 3 ? 'killed' : 'ok') : 'error'));
    const events: RunEvent[] = [];
    const results = await run(plans(2), s.runner, { retries: 2, retryBackoffMs: 5, onEvent: (e) => events.push(e) });
    expect(results.get('t0')).toMatchObject({ status: 'ok', attempts: 3 });
    expect(results.get('t1')).toMatchObject({ status: 'error', attempts: 1 });
    expect(events.filter((e) => e.type === 'log').map((e) => (e as { message: string }).message)).toEqual([
      'task t0 killed: killed; retry 1/2 in 5 ms',
      'task t0 killed: killed; retry 2/2 in 10 ms',
    ]);
    const withErrors = await run(plans(2), scripted((plan, attempt) => (attempt < 2 ? 'error' : 'ok')).runner, { retries: 1, retryBackoffMs: 1, retryOn: ['killed', 'timeout', 'error'] });
    expect([...withErrors.values()].map((r) => r.attempts)).toEqual([2, 2]);
  });

  it('gives up after the last retry and keeps the last outcome', async () => {
    const results = await run(plans(1), scripted(() => 'killed').runner, { retries: 1, retryBackoffMs: 1 });
    expect(results.get('t0')).toMatchObject({ status: 'killed', attempts: 2 });
  });

  it('cancelling during a retry backoff ends the task with its last outcome', async () => {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const done = run(plans(1), scripted(() => 'killed').runner, { retries: 3, retryBackoffMs: 60_000, signal: controller.signal, onEvent: (e) => {
      events.push(e);
      if (e.type === 'log' && e.message.includes('retry')) controller.abort('enough');
    } });
    const results = await done;
    expect(results.get('t0')).toMatchObject({ status: 'killed', attempts: 1 });
  });

  it('never runs more tasks on a GPU than it has slots; CPU tasks are not held back', async () => {
    const s = scripted();
    const ps = [fakePlan('g0a', 3, 0), fakePlan('g0b', 3, 0), fakePlan('g1', 2, 1), fakePlan('cpu', 1, null)];
    const done = run(ps, s.runner, { concurrency: 4, gpuSlots: new GpuSlots(new Map([[0, 1], [1, 1]])) });
    await s.started(3);
    expect(s.calls.map((c) => c.plan.taskId)).toEqual(['g0a', 'g1', 'cpu']);
    s.calls[0]!.finish('ok');
    await s.started(4);
    expect(s.calls[3]!.plan.taskId).toBe('g0b');
    for (const c of s.calls.slice(1)) c.finish('ok');
    expect([...(await done).values()].every((r) => r.status === 'ok')).toBe(true);
  });

  it('a task whose GPU has no room at all fails with E_RESOURCE instead of waiting forever', async () => {
    const results = await run([fakePlan('g0', 1, 0), fakePlan('cpu', 1, null)], scripted(() => 'ok').runner, { gpuSlots: new GpuSlots(new Map([[0, 0]])) });
    expect(results.get('g0')).toMatchObject({ status: 'error', error: { code: 'E_RESOURCE' } });
    expect(results.get('cpu')!.status).toBe('ok');
  });

  it('a runner that throws fails that task only', async () => {
    const runner: TaskRunner = {
      run(plan) {
        if (plan.taskId === 't0') throw new Error('runner bug');
        return { result: Promise.resolve({ taskId: plan.taskId, axis: plan.axis, status: 'ok', seconds: 0, images: 0, outputs: [], measurements: [] }) };
      },
    };
    const results = await run(plans(2), runner);
    expect(results.get('t0')).toMatchObject({ status: 'error', error: { message: 'runner bug' } });
    expect(results.get('t1')!.status).toBe('ok');
  });

  it('a throwing event listener does not strand tasks; the run rejects with it at the end', async () => {
    const s = scripted(() => 'ok');
    await expect(run(plans(3), s.runner, { onEvent: () => { throw new Error('listener bug'); } })).rejects.toThrow('listener bug');
    expect(s.calls).toHaveLength(3);
  });

  describe('a worker that starts slowly', () => {
    /** A runner whose tasks begin when the test calls `begin` (their worker has started), and end when it calls `finish`. */
    function startingSlowly() {
      const tasks: { plan: TaskPlan; signal: AbortSignal; begin(): void; finish(): void }[] = [];
      const runner: TaskRunner = {
        run(plan, { signal }) {
          let begin!: () => void;
          let finish!: () => void;
          const started = new Promise<void>((r) => (begin = r));
          const result = new Promise<TaskResult>((r) => (finish = () => r({ taskId: plan.taskId, axis: plan.axis, status: 'ok', seconds: 0, images: 0, outputs: [], measurements: [] })));
          tasks.push({ plan, signal, begin, finish });
          return { started, result };
        },
      };
      return { runner, tasks };
    }
    const elapsed = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('is not charged for its start-up: the timeout counts from the task\'s start', async () => {
      const s = startingSlowly();
      const done = run(plans(2), s.runner, { timeoutMs: 50 });
      // Three timeouts' worth of start-up: a timer armed at hand-over has fired by now.
      await elapsed(150);
      s.tasks[0]!.begin();
      s.tasks[0]!.finish();
      s.tasks[1]!.begin();
      const results = await done;
      expect(results.get('t0')!.status).toBe('ok');
      // t1 began and never answered: it times out 50 ms after its start, not after its hand-over.
      expect(results.get('t1')).toMatchObject({ status: 'timeout', error: { code: 'E_TASK_TIMEOUT' } });
      expect(results.get('t1')!.seconds).toBeGreaterThanOrEqual(0.045);
      expect(s.tasks[1]!.signal.aborted).toBe(true);
    });

    it('that never starts is killed at the start-up deadline, so the run cannot hang', async () => {
      const s = startingSlowly();
      const results = await run(plans(1), s.runner, { startupTimeoutMs: 50 });
      expect(results.get('t0')).toMatchObject({
        status: 'killed',
        error: { code: 'E_TASK_KILLED', message: 'killed: worker could not start: it had not begun the task 0.05 s after it was handed over', context: { reason: 'spawn-failed' } },
      });
      expect(s.tasks[0]!.signal.aborted).toBe(true);
    });
  });
});

describe('threads per task (cpuBudget)', () => {
  it('a task started with none waiting gets what the budget has left; while others wait, 1', async () => {
    const one = scripted();
    const single = run(plans(1), one.runner, { concurrency: 1, cpuBudget: 2 });
    await one.started(1);
    expect(one.calls[0]!.attempt.threads).toBe(2);
    one.calls[0]!.finish();
    await single;

    const three = scripted();
    const done = run(plans(3), three.runner, { concurrency: 2, cpuBudget: 2 });
    await three.started(2);
    expect(three.calls.map((c) => c.attempt.threads)).toEqual([1, 1]);
    three.calls[0]!.finish();
    await three.started(3);
    expect(three.calls[2]!.attempt.threads).toBe(1); // the second task still holds one of the two
    three.calls[1]!.finish();
    three.calls[2]!.finish();
    await done;
  });

  it('gives 1 without a budget, and never more than maxTaskThreads', async () => {
    for (const [options, expected] of [[{}, 1], [{ cpuBudget: 4, maxTaskThreads: 3 }, 3]] as const) {
      const s = scripted(() => 'ok');
      await run(plans(1), s.runner, { concurrency: 1, ...options });
      expect(s.calls[0]!.attempt.threads).toBe(expected);
    }
  });

  it('starts nothing beyond the budget: a later run waits for the threads a running task holds', async () => {
    const s = scripted();
    const d = new Dispatcher(s.runner, { concurrency: 2, cpuBudget: 2 });
    const first = d.run(plans(1), {});
    await s.started(1);
    expect(s.calls[0]!.attempt.threads).toBe(2);
    const second = d.run([fakePlan('later', 1)], {});
    expect(s.calls).toHaveLength(1); // a free worker, but no free thread
    s.calls[0]!.finish();
    await first;
    await s.started(2);
    expect(s.calls[1]!.attempt.threads).toBe(2);
    s.calls[1]!.finish();
    await second;
  });
});
