/**
 * The per-task timeout counts from the task's start in its worker, not from its hand-over to a
 * worker that is still starting. Workers here start deliberately slowly (fixtures/start-up/slow.cjs
 * blocks 4 s before any plateflow code loads), with a 2.5 s timeout: whatever the machine's speed,
 * start-up alone is longer than the timeout, so tasks that finish at once must end `ok`, and a
 * task that spins past the timeout must still end `timeout`. Real threads and processes from dist/.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../dist/execution/executor.js';
import { createExecutor, dispatch, resolveExecutorOptions, ThreadsExecutor } from '../dist/execution/executors/index.js';
import { ProcessPool } from '../dist/execution/executors/process-pool.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import { byWell, fixture, isGone, misbehaving, plansFor, tinyPlate } from './executor-harness.js';
import { REPO, tempDir } from './helpers.js';

const START_UP = path.join(REPO, 'test', 'fixtures', 'start-up');
/** Below the fixture's 4 s start-up, and far above what a task of this tiny plate takes even on a loaded machine. */
const TIMEOUT_MS = 2500;
const SLOW_START_S = 4;

let dir: string;
let plate: PlateIndex;

beforeAll(async () => {
  dir = await tempDir('plateflow-startup-timeout-');
  plate = await tinyPlate(path.join(dir, 'plate'), 3, 32, 11);
});

const slowStart: readonly (readonly [string, () => Executor])[] = [
  ['threads', () => new ThreadsExecutor(resolveExecutorOptions({ workers: 3, cpus: 3, timeoutMs: TIMEOUT_MS }), { entry: pathToFileURL(path.join(START_UP, 'thread-entry.mjs')).href })],
  ['processes', () => createExecutor('processes', { workers: 3, cpus: 3, timeoutMs: TIMEOUT_MS, execArgv: ['--require', path.join(START_UP, 'slow.cjs')] })],
  ['subprocess', () => createExecutor('subprocess', { workers: 3, cpus: 3, timeoutMs: TIMEOUT_MS, execArgv: ['--require', path.join(START_UP, 'slow.cjs')] })],
];

describe.each(slowStart)('%s with workers slower to start than the timeout', (kind, make) => {
  it('tasks that finish at once end ok; the one that spins past the timeout ends timeout', async () => {
    const pipeline = misbehaving([fixture('spin-on-well.mjs')], [['spin_on_well', { well: 'A03' }]]);
    const executor = make();
    try {
      const results = byWell(await executor.run(await plansFor(pipeline, plate, path.join(dir, `out-${kind}`))));
      expect(results.A01?.status, results.A01?.error?.message).toBe('ok');
      expect(results.A02?.status, results.A02?.error?.message).toBe('ok');
      expect(results.A03).toMatchObject({ status: 'timeout', error: { code: 'E_TASK_TIMEOUT', message: 'timed out after 2.5 s' } });
      // One worker per task, so A03 too waited out a start-up: its time counts from its start in the worker.
      expect(results.A03!.seconds).toBeGreaterThanOrEqual(TIMEOUT_MS / 1000 - 0.01);
      expect(results.A03!.seconds).toBeLessThan(SLOW_START_S);
    } finally {
      await executor.close();
    }
  });
});

describe.each(['threads', 'processes'] as const)('%s loading a user module slower than the timeout', (kind) => {
  it('counts the module\'s import as start-up: every task ends ok', async () => {
    const pipeline = misbehaving([fixture('slow-import.mjs')], [['pass_through', {}]]);
    const executor = createExecutor(kind, { workers: 2, cpus: 2, timeoutMs: TIMEOUT_MS });
    try {
      const results = byWell(await executor.run(await plansFor(pipeline, plate, path.join(dir, `out-import-${kind}`))));
      for (const well of ['A01', 'A02', 'A03']) expect(results[well]?.status, results[well]?.error?.message).toBe('ok');
    } finally {
      await executor.close();
    }
  });
});

it('a worker process that never finishes starting ends its task killed at the start-up deadline, and is gone', async () => {
  const pool = new ProcessPool({
    workers: 1,
    oneShot: false,
    execArgv: ['--require', path.join(START_UP, 'never.cjs')],
    envFor: () => process.env,
    forwardOutput: false,
    memoryLimitBytes: undefined,
    memoryCheckIntervalMs: 100,
  });
  const [plan] = await plansFor({ steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] }, plate, path.join(dir, 'out-never'));
  let pid: number | undefined;
  try {
    const results = await dispatch([plan!], { run: (p, { signal }) => pool.run(p, signal) }, {
      concurrency: 1,
      timeoutMs: 500,
      startupTimeoutMs: 1000,
      onEvent: (e) => {
        if (e.type === 'task:start') pid = e.worker;
      },
    });
    expect(results.get(plan!.taskId)).toMatchObject({
      status: 'killed',
      error: { code: 'E_TASK_KILLED', message: 'killed: worker could not start: it had not begun the task 1 s after it was handed over', context: { reason: 'spawn-failed' } },
    });
  } finally {
    await pool.close(AbortSignal.abort(), 0);
  }
  expect(pid).toBeDefined();
  expect(isGone(pid!)).toBe(true);
});
