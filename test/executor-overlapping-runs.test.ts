/**
 * A batch submits plate N+1's run when plate N's says `run:all-started`, while plate N's last
 * tasks still run, on the same executor. Real threads and processes from dist/: both runs share
 * the workers (never more tasks handed out than workers), the later run's tasks start only after
 * the earlier one's, each run gets exactly its own results, and the facade keeps its pool instead
 * of starting another for a run that wants a different size.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskPlan } from '../dist/compiler/plan.js';
import type { RunEvent } from '../dist/execution/executor.js';
import { createExecutor, type ExecutorKind, type ExecutorOptions } from '../dist/execution/executors/index.js';
import type { TaskResult } from '../dist/execution/result.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import type { PipelineDefinition } from '../dist/pipeline/types.js';
import { fixture, misbehaving, plansFor, tinyPlate } from './executor-harness.js';
import { tempDir } from './helpers.js';

let dir: string;
let plate1: PlateIndex;
let plate2: PlateIndex;
const project: PipelineDefinition = { steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] };
/** A03 blocks until `gate` exists: the earlier run's tail, held running until the later run has started. */
function heldUntil(gate: string): PipelineDefinition {
  const announce = `${gate}.announce`;
  mkdirSync(announce, { recursive: true });
  return misbehaving([fixture('wait-for-file.mjs')], [['wait_for_file', { well: 'A03', announce, release: gate }]]);
}

beforeAll(async () => {
  dir = await tempDir('plateflow-overlap-');
  plate1 = await tinyPlate(path.join(dir, 'plate1'), 3, 32, 21);
  plate2 = await tinyPlate(path.join(dir, 'plate2'), 2, 32, 22);
});

/** Everything both runs reported, in order, tagged with the run, plus how many tasks were handed out at most at once. */
function recorder() {
  const log: { run: 'A' | 'B'; event: RunEvent }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    log,
    get maxInFlight() {
      return maxInFlight;
    },
    listener(run: 'A' | 'B', then?: (e: RunEvent) => void) {
      return (event: RunEvent) => {
        log.push({ run, event });
        if (event.type === 'task:start') maxInFlight = Math.max(maxInFlight, ++inFlight);
        if (event.type === 'task:done') inFlight--;
        then?.(event);
      };
    },
    index(run: 'A' | 'B', type: RunEvent['type'], which: 'first' | 'last' = 'first'): number {
      const match = (e: (typeof log)[number]) => e.run === run && e.event.type === type;
      return which === 'first' ? log.findIndex(match) : log.findLastIndex(match);
    },
  };
}

const statuses = (results: ReadonlyMap<string, TaskResult>) => Object.fromEntries([...results].map(([id, r]) => [id, r.status]));

const kinds: readonly (readonly [ExecutorKind, ExecutorOptions])[] = [
  ['threads', { workers: 2 }],
  ['processes', { workers: 2 }],
  ['subprocess', { workers: 2 }],
  // `serial` with a timeout runs in one worker thread: two runs share that one worker.
  ['serial', { timeoutMs: 60_000 }],
];

describe.each(kinds)('%s: the next run submitted on run:all-started', (kind, options) => {
  it('shares the workers, starts after the earlier run, and each run gets its own results', async () => {
    const executor = createExecutor(kind, { cpus: 2, ...options });
    const workers = options.workers ?? 1;
    const gate = path.join(dir, `gate-${kind}`);
    // With one worker the later run cannot start before the earlier one ends, so nothing is held.
    const plansA = await plansFor(workers > 1 ? heldUntil(gate) : project, plate1, path.join(dir, `a-${kind}`));
    const plansB = await plansFor(project, plate2, path.join(dir, `b-${kind}`));
    const rec = recorder();
    let runB: Promise<Map<string, TaskResult>> | undefined;
    try {
      const resultsA = await executor.run(
        plansA,
        {
          onEvent: rec.listener('A', (e) => {
            if (e.type === 'run:all-started') {
              runB = executor.run(plansB, {
                onEvent: rec.listener('B', (b) => {
                  if (b.type === 'task:start') writeFileSync(gate, '');
                }),
              });
            }
          }),
        },
      );
      expect(runB, 'run A never said run:all-started').toBeDefined();
      const resultsB = await runB!;
      expect(statuses(resultsA)).toEqual({ A01: 'ok', A02: 'ok', A03: 'ok' });
      expect(statuses(resultsB)).toEqual({ A01: 'ok', A02: 'ok' });
      expect(rec.maxInFlight).toBeLessThanOrEqual(workers);
      expect(rec.log.filter((e) => e.event.type === 'run:all-started').map((e) => e.run)).toEqual(['A', 'B']);
      expect(rec.index('B', 'task:start')).toBeGreaterThan(rec.index('A', 'task:start', 'last'));
      // With room for it, the later run started while the earlier one's tail still ran.
      if (workers > 1) expect(rec.index('B', 'task:start')).toBeLessThan(rec.index('A', 'task:done', 'last'));
    } finally {
      writeFileSync(gate, '');
      await executor.close();
    }
  });
});

describe('the facade keeps its pool across runs of different sizes', () => {
  /** Pids of the workers that took this run's tasks. */
  const pidsOf = (events: RunEvent[]) => new Set(events.flatMap((e) => (e.type === 'task:start' && e.worker !== undefined ? [e.worker] : [])));
  const run = async (executor: ReturnType<typeof createExecutor>, plans: readonly TaskPlan[]) => {
    const events: RunEvent[] = [];
    const results = await executor.run(plans, { onEvent: (e) => events.push(e) });
    return { results, events, pids: pidsOf(events) };
  };

  it('a run that needs fewer workers reuses the bigger pool, overlapping or alone', async () => {
    // A timeout keeps one-task runs in a process, as a pool of the right size would be chosen.
    const executor = createExecutor('processes', { workers: 2, cpus: 2, timeoutMs: 60_000 });
    try {
      const [one, two] = await plansFor(project, plate2, path.join(dir, 'reuse-small'));
      const events: RunEvent[] = [];
      let overlapping: Promise<Map<string, TaskResult>> | undefined;
      const big = await executor.run(await plansFor(project, plate1, path.join(dir, 'reuse-big')), {
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'run:all-started') overlapping = executor.run([one!], { onEvent: (s) => events.push(s) });
        },
      });
      expect(statuses(big)).toEqual({ A01: 'ok', A02: 'ok', A03: 'ok' });
      expect(statuses(await overlapping!)).toEqual({ A01: 'ok' });
      const alone = await run(executor, [two!]);
      expect(statuses(alone.results)).toEqual({ A02: 'ok' });
      const pids = new Set([...pidsOf(events), ...alone.pids]);
      expect(pids.size).toBeLessThanOrEqual(2);
      expect(executor.pids.sort()).toEqual([...pids].sort());
    } finally {
      await executor.close();
    }
  });

  it('a run that needs more workers than the busy pool waits for it, then gets a bigger one: never two pools at once', async () => {
    const executor = createExecutor('processes', { workers: 2, cpus: 2, timeoutMs: 60_000 });
    const gate = path.join(dir, 'gate-grow');
    try {
      const [heldA03] = (await plansFor(heldUntil(gate), plate1, path.join(dir, 'grow-small'))).filter((p) => p.axis.well === 'A03');
      const rec = recorder();
      let started!: () => void;
      const smallStarted = new Promise<void>((resolve) => (started = resolve));
      const small = executor.run([heldA03!], { onEvent: rec.listener('A', (e) => e.type === 'task:start' && started()) });
      await smallStarted;
      const smallPids = [...executor.pids];
      const big = executor.run(await plansFor(project, plate2, path.join(dir, 'grow-big')), { onEvent: rec.listener('B') });
      writeFileSync(gate, '');
      expect(statuses(await small)).toEqual({ A03: 'ok' });
      expect(statuses(await big)).toEqual({ A01: 'ok', A02: 'ok' });
      expect(rec.index('B', 'task:start')).toBeGreaterThan(rec.index('A', 'task:done'));
      const bigPids = rec.log.flatMap((e) => (e.run === 'B' && e.event.type === 'task:start' && e.event.worker !== undefined ? [e.event.worker] : []));
      expect(bigPids.some((pid) => smallPids.includes(pid))).toBe(false);
    } finally {
      writeFileSync(gate, '');
      await executor.close();
    }
  });
});
