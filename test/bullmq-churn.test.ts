/**
 * Worker churn under the bullmq executor, with real `plateflow worker` processes, a real Redis and
 * real SIGKILLs: the worker running a task is killed again and again, more often than BullMQ's stall
 * allowance once let a job survive, and the task still ends ok, recorded once; beside it, a task
 * whose own process crashes still ends `killed` after its attempts. Every wait is on a marker file
 * or an event, with a deadline.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BullmqExecutor, getRunStatus } from '../src/distributed/index.js';
import type { RunEvent } from '../src/execution/executor.js';
import { runPlate } from '../src/run/run-plate.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, SKIP_MESSAGE, allGone, ensureRedis, startWorkerProcess, uniqueQueue, waitFor, type WorkerProcess } from './bullmq-helpers.js';
import { REPO, tempDir } from './helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'steps');
/** Worker losses under one task: one more than 5, the stall allowance workers had by default. */
const SPINS = 6;

describe.skipIf(!REDIS_AVAILABLE)('bullmq executor under worker churn', () => {
  const everyone: WorkerProcess[] = [];

  afterAll(async () => {
    const children = everyone.flatMap((w) => [...w.children]);
    await Promise.all(everyone.map((w) => w.stop()));
    await allGone([...children, ...everyone.map((w) => w.pid)]);
  });

  it(`a task whose worker is SIGKILLed ${SPINS} times ends ok, once; a task that crashes its own process ends killed after its attempts`, async () => {
    const url = await ensureRedis();
    const dir = await tempDir('plateflow-bullmq-churn-');
    const plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 4, sites: 1, channels: 1, z: 2, size: 32, seed: 7 })).root;
    const announce = path.join(dir, 'announce');
    await mkdir(announce);
    const queue = uniqueQueue('churn');
    // One task per worker, so killing the worker named in a marker loses that task and no other.
    const args = ['--redis', url, '--queue', queue, '--roots', `${dir},${FIXTURES}`, '--concurrency', '1', '--lock-duration', '1500ms', '--stalled-interval', '500ms', '--quiet'];
    const start = async (): Promise<WorkerProcess> => {
      const w = await startWorkerProcess(args);
      everyone.push(w);
      return w;
    };
    // Three, so that two stay up while a replacement starts: the lost task is taken again at once.
    const live = await Promise.all([start(), start(), start()]);
    const pipeline = path.join(dir, 'churn.json');
    await writeFile(
      pipeline,
      JSON.stringify({
        modules: [path.join(FIXTURES, 'spin-n-times-on-well.mjs'), path.join(FIXTURES, 'sigkill-on-well.mjs')],
        steps: [
          { name: 'project', func: [['spin_n_times_on_well', { well: 'A01', spins: SPINS, announce }], ['sigkill_on_well', { well: 'A02' }], 'max_projection'], variableComponents: ['z'] },
          { name: 'count', func: [['gaussian_blur', { sigma: 1 }], 'otsu_threshold', 'label', 'count_objects'] },
        ],
      }),
    );
    const out = path.join(dir, 'out');
    const executor = new BullmqExecutor({ redis: url, queue, attempts: 2, retryBackoffMs: 50 });
    let ended = false;
    const logs: string[] = [];
    const onEvent = (e: RunEvent) => {
      if (e.type === 'log') logs.push(e.message);
    };
    const running = runPlate(plate, { pipeline, out, executor, onEvent }).finally(() => {
      ended = true;
      return executor.close();
    });

    const spinning: number[] = [];
    const replacements: Promise<unknown>[] = [];
    for (let n = 1; n <= SPINS; n++) {
      // Before the fix the run ends early (A01 failed by BullMQ's stall limit): stop waiting then.
      const marker = await waitFor(`execution ${n} of A01`, async () => (await readFile(path.join(announce, `A01.${n}.started`), 'utf8').catch(() => undefined)) ?? (ended ? 'ended' : undefined), 60_000);
      if (marker === 'ended') break;
      const [taskPid, workerPid] = marker.split(' ').map(Number) as [number, number];
      spinning.push(taskPid);
      const victim = await waitFor(`worker ${workerPid} among ours`, () => live.find((w) => w.pid === workerPid));
      live.splice(live.indexOf(victim), 1);
      await victim.kill();
      replacements.push(start().then((w) => live.push(w)));
    }
    const run = await running;
    await Promise.all(replacements);

    const a01 = run.outcome.results.get('A01')!;
    expect(a01.status, JSON.stringify(a01.error)).toBe('ok');
    expect(spinning).toHaveLength(SPINS);
    // Started SPINS + 1 times at least, and no worker loss used one of its 2 attempts.
    expect(a01.attempts).toBeGreaterThan(SPINS);
    expect(run.outcome.results.get('A02')).toMatchObject({ status: 'killed', error: { code: 'E_TASK_KILLED' } });
    expect(run.totals).toMatchObject({ tasks: 4, ok: 3, failed: 1 });
    // The coordinator saw each loss and said it cost no attempt.
    expect(logs.filter((m) => m.startsWith('task A01: the worker running it was lost')).length, logs.join('\n')).toBeGreaterThanOrEqual(SPINS);
    const done = (taskId: string) => everyone.flatMap((w) => w.events).filter((e) => e.type === 'task:done' && e.taskId === taskId && e.runId === executor.runId);
    // A01 finished once in all; A02's process crashed on both of its attempts, and that was the end of it.
    expect(done('A01').map((e) => e.status)).toEqual(['ok']);
    const a02 = done('A02').sort((x, y) => Number(x.attempt) - Number(y.attempt));
    expect(a02.map((e) => [e.attempt, e.status, e.retry])).toEqual([
      [1, 'killed', true],
      [2, 'killed', false],
    ]);
    const rows = (await readFile(path.join(out, 'measurements.csv'), 'utf8')).trim().split('\n');
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.filter((r) => r.startsWith('A01,')).length).toBe(rows.filter((r) => r.startsWith('A03,')).length);
    expect((await getRunStatus({ redis: url, queue, runId: executor.runId })).statuses).toEqual({ ok: 3, killed: 1 });
    // The spinning task processes died with their workers.
    await allGone(spinning);
  }, 120_000);
});

if (!REDIS_AVAILABLE) console.warn(`bullmq-churn: skipped: ${SKIP_MESSAGE}`);
