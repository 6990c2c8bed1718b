/**
 * Overlapping `run()` calls on one dispatcher share its workers and its queue: never more tasks in
 * flight than workers, an earlier call's tasks before a later call's (largest first within a
 * call), and each call keeps its own results, fail-fast, cancellation and events, with one
 * `run:all-started` once none of its tasks waits. Checked as a property over random splits of
 * tasks into runs, worker counts, submission moments, outcomes and cancellations, with a scripted
 * runner (no workers started).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { TaskPlan } from '../src/compiler/plan.js';
import type { RunEvent } from '../src/execution/executor.js';
import { Dispatcher, type TaskRunner } from '../src/execution/executors/dispatch.js';
import type { TaskResult, TaskStatus } from '../src/execution/result.js';
import { fakePlan } from './executor-fake-plan.js';

const RUNS = 4;

interface Live {
  readonly plan: TaskPlan;
  finish(status: TaskStatus): void;
}

interface RunRecord {
  readonly plans: TaskPlan[];
  /** Submitted, neither started nor done: what the dispatcher still holds in its queue. */
  readonly waiting: Map<string, number>;
  readonly events: RunEvent[];
  submitted: boolean;
  settled: boolean;
  results?: Map<string, TaskResult>;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const scenario = fc.record({
  workers: fc.integer({ min: 1, max: 4 }),
  tasks: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 4 }), run: fc.nat({ max: RUNS - 1 }) }), { minLength: 1, maxLength: 16 }),
  /** Run i is submitted once this many tasks have finished (or when nothing else can happen). */
  submitAfter: fc.array(fc.nat({ max: 16 }), { minLength: RUNS, maxLength: RUNS }),
  outcomes: fc.array(fc.record({ pick: fc.nat(), status: fc.constantFrom<TaskStatus>('ok', 'ok', 'ok', 'error') }), { maxLength: 40 }),
  failFast: fc.array(fc.boolean(), { minLength: RUNS, maxLength: RUNS }),
  cancel: fc.option(fc.record({ run: fc.nat({ max: RUNS - 1 }), after: fc.nat({ max: 16 }) }), { nil: undefined }),
  /** Submit the next run from inside this one's `run:all-started` listener, as a batch does. */
  chained: fc.boolean(),
});

it('overlapping runs share the workers and the queue, in call order, each with its own results', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ workers, tasks, submitAfter, outcomes, failFast, cancel, chained }) => {
      const runs: RunRecord[] = Array.from({ length: RUNS }, () => ({ plans: [], waiting: new Map(), events: [], submitted: false, settled: false }));
      tasks.forEach(({ weight, run }, i) => runs[run]!.plans.push(fakePlan(`r${run}-t${i}`, weight)));
      const runOf = (taskId: string) => Number(taskId.slice(1, taskId.indexOf('-')));
      const live: Live[] = [];
      let maxLive = 0;
      const violations: string[] = [];

      const runner: TaskRunner = {
        run(plan, { signal }) {
          const r = runOf(plan.taskId);
          const weight = runs[r]!.waiting.get(plan.taskId);
          if (weight === undefined) violations.push(`${plan.taskId} started but was not waiting`);
          runs[r]!.waiting.delete(plan.taskId);
          for (let earlier = 0; earlier < r; earlier++) {
            if (runs[earlier]!.waiting.size > 0) violations.push(`${plan.taskId} started while run ${earlier} still had ${[...runs[earlier]!.waiting.keys()].join(',')} waiting`);
          }
          for (const [id, w] of runs[r]!.waiting) if (w > plan.resources.weight) violations.push(`${plan.taskId} (weight ${plan.resources.weight}) started before ${id} (weight ${w})`);
          if (runs[r]!.events.some((e) => e.type === 'run:all-started')) violations.push(`${plan.taskId} started after its run said all-started`);
          let settle!: (result: TaskResult) => void;
          const result = new Promise<TaskResult>((resolve) => (settle = resolve));
          const entry: Live = {
            plan,
            finish(status) {
              const i = live.indexOf(entry);
              if (i < 0) return;
              live.splice(i, 1);
              settle({ taskId: plan.taskId, axis: plan.axis, status, seconds: 0, images: 0, outputs: [], measurements: [], ...(status === 'ok' ? {} : { error: { name: 'Error', message: status } }) });
            },
          };
          live.push(entry);
          maxLive = Math.max(maxLive, live.length);
          signal.addEventListener('abort', () => entry.finish('cancelled'), { once: true });
          return { result };
        },
      };

      const dispatcher = new Dispatcher(runner, { concurrency: workers });
      const controllers = runs.map(() => new AbortController());
      const pending: Promise<void>[] = [];
      let nextRun = 0;
      const submit = () => {
        const r = nextRun++;
        const record = runs[r]!;
        record.submitted = true;
        for (const p of record.plans) record.waiting.set(p.taskId, p.resources.weight);
        const onEvent = (e: RunEvent) => {
          record.events.push(e);
          if (e.type === 'task:done') record.waiting.delete(e.result.taskId);
          if (e.type === 'run:all-started' && record.waiting.size > 0) violations.push(`run ${r} said all-started with ${[...record.waiting.keys()].join(',')} waiting`);
          if (e.type === 'run:all-started' && chained && nextRun === r + 1 && nextRun < RUNS) submit();
        };
        pending.push(
          dispatcher.run(record.plans, { onEvent, failFast: failFast[r]!, signal: controllers[r]!.signal }).then((results) => {
            record.results = results;
            record.settled = true;
          }),
        );
      };

      let finished = 0;
      let step = 0;
      for (;;) {
        while (nextRun < RUNS && finished >= submitAfter[nextRun]!) submit();
        await flush();
        if (cancel && finished >= cancel.after && !controllers[cancel.run]!.signal.aborted) {
          controllers[cancel.run]!.abort('scripted cancel');
          await flush();
        }
        if (live.length === 0) {
          if (nextRun === RUNS) break;
          submit(); // nothing runs: the next run comes now whatever its threshold
          continue;
        }
        const { pick, status } = outcomes[step++] ?? { pick: 0, status: 'ok' as const };
        live[pick % live.length]!.finish(status);
        finished++;
        await flush();
      }

      expect(violations).toEqual([]);
      expect(maxLive).toBeLessThanOrEqual(workers);
      for (const [r, record] of runs.entries()) {
        expect(record.settled, `run ${r} never settled`).toBe(true);
        expect([...record.results!.keys()].sort()).toEqual(record.plans.map((p) => p.taskId).sort());
        const starts = record.events.filter((e) => e.type === 'task:start').length;
        const doneIds = record.events.flatMap((e) => (e.type === 'task:done' ? [e.result.taskId] : []));
        expect(doneIds.sort()).toEqual(record.plans.map((p) => p.taskId).sort());
        expect(starts).toBeLessThanOrEqual(record.plans.length);
        expect(record.events.filter((e) => e.type === 'run:all-started')).toHaveLength(1);
      }
      await Promise.all(pending);
    }),
    { numRuns: 300 },
  );
});
