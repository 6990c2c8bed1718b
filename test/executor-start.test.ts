/**
 * `Executor.start()`: workers are started and have loaded the task code before the first task, so
 * their start-up can overlap discovery and compilation. Real threads and processes from dist/.
 */
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { createExecutor, ExecutorClosedError } from '../dist/execution/executors/index.js';
import runPlanInThread from '../dist/execution/thread-entry.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import type { PipelineDefinition } from '../dist/pipeline/types.js';
import { plansFor, tinyPlate } from './executor-harness.js';
import { tempDir } from './helpers.js';

let dir: string;
let plate: PlateIndex;
const project: PipelineDefinition = { steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] };

beforeAll(async () => {
  dir = await tempDir('plateflow-start-');
  plate = await tinyPlate(path.join(dir, 'plate'), 4, 32, 3);
});

it('processes: start() forks every worker up front, and the run uses exactly those workers', async () => {
  const executor = createExecutor('processes', { workers: 2, cpus: 2 });
  try {
    expect(executor.pids).toEqual([]);
    const starting = executor.start();
    expect(executor.start()).toBe(starting); // idempotent: one start-up
    await starting;
    const started = [...executor.pids].sort();
    expect(started).toHaveLength(2);
    const workers = new Set<number>();
    const results = await executor.run(await plansFor(project, plate, path.join(dir, 'out-processes')), {
      onEvent: (e) => {
        if (e.type === 'task:start' && e.worker !== undefined) workers.add(e.worker);
      },
    });
    expect([...results.values()].map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([...workers].every((pid) => started.includes(pid))).toBe(true);
    expect([...executor.pids].sort()).toEqual(started);
  } finally {
    await executor.close();
  }
});

it('threads: start() loads every thread, then runs as usual; start() after close() is refused', async () => {
  const executor = createExecutor('threads', { workers: 2, cpus: 2 });
  await executor.start();
  const results = await executor.run(await plansFor(project, plate, path.join(dir, 'out-threads')));
  expect([...results.values()].every((r) => r.status === 'ok')).toBe(true);
  await executor.close();
  await expect(executor.start()).rejects.toBeInstanceOf(ExecutorClosedError);
});

it('a closed executor that was only started exits without running anything', async () => {
  for (const kind of ['threads', 'processes', 'serial'] as const) {
    const executor = createExecutor(kind, { workers: 2, cpus: 2 });
    await executor.start();
    await executor.close();
    expect(executor.pids).toEqual([]);
  }
});

it('a warm-up request waits for the other threads, but only until its deadline', async () => {
  const alone = { arrived: new SharedArrayBuffer(4), threads: 1, timeoutMs: 5000 };
  let t = performance.now();
  expect(await runPlanInThread({ warmUp: alone })).toBeNull();
  expect(performance.now() - t).toBeLessThan(2000);
  // A second thread that never comes: the request gives up at its deadline instead of hanging.
  const missing = { arrived: new SharedArrayBuffer(4), threads: 2, timeoutMs: 150 };
  t = performance.now();
  expect(await runPlanInThread({ warmUp: missing })).toBeNull();
  expect(performance.now() - t).toBeGreaterThanOrEqual(140);
  expect(new Int32Array(missing.arrived)[0]).toBe(1);
});
