/**
 * Failures under the bullmq executor, with real worker processes and a real Redis: a worker
 * SIGKILLed mid-task, a task that crashes its process on every attempt, and a cancelled run.
 * Workers use a short lock (1.5 s) and stalled check (0.5 s) so a dead worker's job comes back in
 * seconds; every wait is on a file, an event or a state, with a deadline.
 */
import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqExecutor, getRunStatus } from '../src/distributed/index.js';
import { runPlate } from '../src/run/run-plate.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, SKIP_MESSAGE, alive, allGone, ensureRedis, sameOutputs, startWorkerProcess, uniqueQueue, waitFor, workersIdle, type WorkerProcess } from './bullmq-helpers.js';
import { REPO, tempDir } from './helpers.js';
import { tempFileOwner } from '../src/storage/atomic.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'steps');
const COUNT = { name: 'count', func: { '#1': [['gaussian_blur', { sigma: 1 }], 'otsu_threshold', 'label', 'count_objects'] }, variableComponents: ['site'], groupBy: 'channel' };

describe.skipIf(!REDIS_AVAILABLE)('bullmq executor when workers and tasks die', () => {
  let url: string;
  let dir: string;
  let plate: string;
  let queue: string;
  let args: string[];
  const workers: WorkerProcess[] = [];

  async function pipelineWith(name: string, module: string, call: readonly [string, Record<string, unknown>]): Promise<string> {
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify({ modules: [path.join(FIXTURES, module)], steps: [{ name: 'project', func: [call, 'max_projection'], variableComponents: ['z'], backend: 'disk' }, COUNT] }));
    return file;
  }

  beforeAll(async () => {
    url = await ensureRedis();
    dir = await tempDir('plateflow-bullmq-crash-');
    plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 6, sites: 2, channels: 2, z: 2, size: 64, seed: 5 })).root;
    queue = uniqueQueue('crash');
    args = ['--redis', url, '--queue', queue, '--roots', `${dir},${FIXTURES}`, '--concurrency', '2', '--lock-duration', '1500ms', '--stalled-interval', '500ms', '--quiet'];
    workers.push(...(await Promise.all([startWorkerProcess(args), startWorkerProcess(args)])));
  });

  afterAll(async () => {
    const children = workers.flatMap((w) => [...w.children]);
    await Promise.all(workers.map((w) => w.stop()));
    await allGone([...children, ...workers.map((w) => w.pid)]);
  });

  it('SIGKILL of a worker mid-task: the job is retried on the other worker, nothing is lost and no row is duplicated', async () => {
    const announce = path.join(dir, 'announce-kill');
    await mkdir(announce);
    const marker = path.join(announce, 'A03.started');
    const pipeline = await pipelineWith('spin', 'spin-once-on-well.mjs', ['spin_once_on_well', { well: 'A03', announce }]);
    // The serial reference finds the marker already there, so the same plan passes straight through.
    await writeFile(marker, 'reference');
    const serial = await runPlate(plate, { pipeline, out: path.join(dir, 'kill-serial') });
    expect(serial.totals.ok).toBe(6);
    await unlink(marker);

    const executor = new BullmqExecutor({ redis: url, queue });
    const running = runPlate(plate, { pipeline, out: path.join(dir, 'kill-bullmq'), executor }).finally(() => executor.close());

    const [taskPid, workerPid] = (await waitFor('A03 to start spinning', () => readFile(marker, 'utf8').catch(() => undefined))).split(' ').map(Number) as [number, number];
    const victim = workers.find((w) => w.pid === workerPid)!;
    const survivor = workers.find((w) => w !== victim)!;
    expect(victim, `worker ${workerPid} not among ${workers.map((w) => w.pid).join(', ')}`).toBeDefined();
    await victim.kill();
    workers.splice(workers.indexOf(victim), 1);
    // A replacement starts only after the run, so the survivor is the one that must pick the job up.
    const run = await running.finally(async () => workers.push(await startWorkerProcess(args)));
    expect(run.totals).toMatchObject({ tasks: 6, ok: 6, failed: 0, cancelled: 0 });
    const a03 = run.outcome.results.get('A03')!;
    expect(a03.attempts).toBe(2);
    expect(survivor.events.filter((e) => e.type === 'task:done' && e.taskId === 'A03' && e.runId === executor.runId)).toHaveLength(1);
    expect(victim.events.filter((e) => e.type === 'task:done' && e.taskId === 'A03')).toHaveLength(0);
    // The spinning task process died with its worker (orphan guard), and nothing was left behind.
    await allGone([taskPid, ...victim.children]);
    await workersIdle([survivor]);
    const { differ, litter } = await sameOutputs(path.join(dir, 'kill-serial'), path.join(dir, 'kill-bullmq'));
    const trace = [victim, survivor].map((w) => w.events.filter((e) => e.type.startsWith('task:')).map((e) => `${w.pid}:${e.type}:${String(e.taskId ?? e.jobId)}`));
    expect(differ, JSON.stringify({ differ, trace })).toEqual([]);
    // The only possible extra: temp files of the killed worker's task processes cut off mid-write
    // (the next run on this folder removes them, see storage/stale-temp.ts).
    const killedPids = new Set([taskPid, ...victim.children]);
    expect(litter.filter((f) => !killedPids.has(tempFileOwner(path.basename(f))!.pid)), JSON.stringify(litter)).toEqual([]);
    const rows = (await readFile(path.join(dir, 'kill-bullmq', 'measurements.csv'), 'utf8')).trim().split('\n');
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.filter((r) => r.startsWith('A03,')).length).toBe(rows.filter((r) => r.startsWith('A01,')).length);
    expect((await getRunStatus({ redis: url, queue, runId: executor.runId })).counts).toMatchObject({ done: 6 });
  });

  it('a worker stopped twice (SIGTERM, SIGTERM) hands its running job back at once, without using an attempt', async () => {
    const announce = path.join(dir, 'announce-handback');
    await mkdir(announce);
    const executor = new BullmqExecutor({ redis: url, queue, attempts: 1 });
    const running = runPlate(plate, { pipeline: await pipelineWith('handback', 'spin-once-on-well.mjs', ['spin_once_on_well', { well: 'A02', announce }]), out: path.join(dir, 'handback-out'), executor }).finally(() => executor.close());
    const workerPid = Number((await waitFor('A02 to start spinning', () => readFile(path.join(announce, 'A02.started'), 'utf8').catch(() => undefined))).split(' ')[1]);
    const leaving = workers.find((w) => w.pid === workerPid)!;
    const stays = workers.find((w) => w !== leaving)!;
    const stoppedAt = Date.now();
    leaving.signal('SIGTERM');
    // Two signals sent at once would merge into one: wait until the first was taken.
    await waitFor('the first SIGTERM to be handled', () => leaving.stderr().includes('finishing running tasks'));
    leaving.signal('SIGTERM');
    expect(await leaving.exited).toBe(0);
    // Well under the 1.5 s lock: the job was handed back, not left to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    expect(leaving.events.some((e) => e.type === 'task:requeued')).toBe(true);
    workers.splice(workers.indexOf(leaving), 1);
    const run = await running.finally(async () => workers.push(await startWorkerProcess(args)));
    // One attempt allowed, yet A02 ran twice and ended ok: handing back used none.
    expect(run.totals).toMatchObject({ tasks: 6, ok: 6 });
    expect(stays.events.filter((e) => e.type === 'task:done' && e.taskId === 'A02' && e.runId === executor.runId)).toHaveLength(1);
    await allGone(leaving.children);
  });

  it('a task that crashes its process on every attempt ends killed after its attempts; the others finish', async () => {
    const executor = new BullmqExecutor({ redis: url, queue, attempts: 2, retryBackoffMs: 50 });
    const logs: string[] = [];
    const run = await runPlate(plate, {
      pipeline: await pipelineWith('crash', 'sigkill-on-well.mjs', ['sigkill_on_well', { well: 'A05' }]),
      out: path.join(dir, 'crash-out'),
      executor,
      onEvent: (e) => {
        if (e.type === 'log') logs.push(e.message);
      },
    }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 6, ok: 5, failed: 1 });
    const a05 = run.outcome.results.get('A05')!;
    expect(a05).toMatchObject({ status: 'killed', attempts: 2, error: { code: 'E_TASK_KILLED', context: { reason: 'signal', signal: 'SIGKILL' } } });
    expect(logs.some((m) => /task A05: attempt 1 of 2 failed .*retrying/.test(m)), logs.join('\n')).toBe(true);
    const status = await getRunStatus({ redis: url, queue, runId: executor.runId });
    expect(status.counts).toMatchObject({ done: 5, failed: 1 });
    expect(status.statuses).toEqual({ ok: 5, killed: 1 });
  });

  it('the worker enforces the run\'s per-task timeout: the task\'s process is killed, it ends timeout, the others finish', async () => {
    const announce = path.join(dir, 'announce-timeout');
    await mkdir(announce);
    // The clock starts when the task starts in its child process (start-up is not charged), but a
    // healthy task here still takes up to ~1 s on a loaded 2-core machine: 5 s leaves room for that.
    const executor = new BullmqExecutor({ redis: url, queue, timeoutMs: 5000, attempts: 1 });
    const run = await runPlate(plate, { pipeline: await pipelineWith('timeout', 'spin-on-well.mjs', ['spin_on_well', { well: 'A06', announce }]), out: path.join(dir, 'timeout-out'), executor }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 6, ok: 5, failed: 1 });
    expect(run.outcome.results.get('A06')).toMatchObject({ status: 'timeout', attempts: 1, error: { code: 'E_TASK_TIMEOUT', message: 'timed out after 5 s' } });
    await allGone([Number(await readFile(path.join(announce, 'A06.started'), 'utf8'))]);
  });

  it('cancelling a run removes its waiting jobs and stops its running tasks; the workers carry on', async () => {
    const announce = path.join(dir, 'announce-cancel');
    await mkdir(announce);
    const executor = new BullmqExecutor({ redis: url, queue, cancelGraceMs: 15_000 });
    const controller = new AbortController();
    const running = runPlate(plate, {
      pipeline: await pipelineWith('spin-all', 'spin-on-well.mjs', ['spin_on_well', { well: '*', announce }]),
      out: path.join(dir, 'cancel-out'),
      executor,
      signal: controller.signal,
    });
    // Two workers × 2 slots: four tasks spin, two wait in the queue.
    const spinning = await waitFor('four spinning tasks', async () => {
      const files = await readdir(announce);
      return files.length === 4 ? files : undefined;
    });
    const pids = await Promise.all(spinning.map(async (f) => Number(await readFile(path.join(announce, f), 'utf8'))));
    // While it runs, status sees four tasks active and two waiting.
    expect((await getRunStatus({ redis: url, queue, runId: executor.runId })).counts).toMatchObject({ done: 0, active: 4, waiting: 2, failed: 0 });
    controller.abort(new Error('user pressed Ctrl-C'));
    const run = await running.finally(() => executor.close());

    expect(run.totals).toMatchObject({ tasks: 6, ok: 0, cancelled: 6 });
    const started = spinning.map((f) => f.replace('.started', ''));
    for (const r of run.outcome.results.values()) {
      expect(r.status).toBe('cancelled');
      expect(r.error?.message).toContain(started.includes(r.taskId) ? 'cancelled' : 'not started');
    }
    await allGone(pids);
    const status = await getRunStatus({ redis: url, queue, runId: executor.runId });
    expect(status.counts).toMatchObject({ active: 0, waiting: 0, retrying: 0 });
    expect(workers.every((w) => alive(w.pid))).toBe(true);

    // The same workers take the next run at once.
    const next = new BullmqExecutor({ redis: url, queue });
    const again = await runPlate(plate, { pipeline: await pipelineWith('pass', 'fail-on-well.mjs', ['fail_on_well', { well: 'none' }]), out: path.join(dir, 'after-cancel'), executor: next }).finally(() => next.close());
    expect(again.totals).toMatchObject({ tasks: 6, ok: 6 });
  });
});

if (!REDIS_AVAILABLE) console.warn(`bullmq-crash: skipped: ${SKIP_MESSAGE}`);
