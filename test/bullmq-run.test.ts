/**
 * The bullmq executor against a real Redis and two real `plateflow worker` processes: results and
 * output bytes equal a serial run, status, resume, refusal of plans outside --roots, password auth.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqExecutor, getRunStatus } from '../src/distributed/index.js';
import { runBatch } from '../src/run/run-batch.js';
import { runPlate } from '../src/run/run-plate.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, SKIP_MESSAGE, allGone, ensureRedis, listFiles, sameOutputs, startWorkerProcess, uniqueQueue, workersIdle, type WorkerProcess } from './bullmq-helpers.js';
import { REPO, STANDARD, cli, lastJsonLine, tempDir } from './helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'steps');

describe.skipIf(!REDIS_AVAILABLE)('bullmq executor with two worker processes', () => {
  let url: string;
  let dir: string;
  let plate: string;
  let queue: string;
  let workers: WorkerProcess[];

  beforeAll(async () => {
    url = await ensureRedis();
    dir = await tempDir('plateflow-bullmq-run-');
    plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 6, sites: 2, channels: 2, z: 2, size: 64, seed: 3 })).root;
    queue = uniqueQueue('run');
    const args = ['--redis', url, '--queue', queue, '--roots', `${dir},${FIXTURES}`, '--concurrency', '2', '--quiet'];
    workers = await Promise.all([startWorkerProcess(args), startWorkerProcess(args)]);
  });

  afterAll(async () => {
    const children = workers.flatMap((w) => [...w.children]);
    const codes = await Promise.all(workers.map((w) => w.stop()));
    expect(codes).toEqual([0, 0]);
    await allGone([...children, ...workers.map((w) => w.pid)]);
  });

  const doneBy = (w: WorkerProcess, runId: string) => w.events.filter((e) => e.type === 'task:done' && e.runId === runId).map((e) => e.taskId as string);

  it('a plate run through 2 workers equals the serial run byte for byte', async () => {
    const serial = await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'serial') });
    const executor = new BullmqExecutor({ redis: url, queue });
    const events: string[] = [];
    const distributed = await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'bullmq'), executor, onEvent: (e) => events.push(e.type) }).finally(() => executor.close());

    expect(distributed.totals).toMatchObject({ tasks: 6, ok: 6, failed: 0, cancelled: 0 });
    expect(distributed.outcome.executor).toBe('bullmq');
    expect(events.filter((t) => t === 'task:done')).toHaveLength(6);
    await workersIdle(workers);
    const { files, differ } = await sameOutputs(path.join(dir, 'serial'), path.join(dir, 'bullmq'));
    expect(differ).toEqual([]);
    expect(files).toContain('measurements.csv');
    expect(files.filter((f) => f.endsWith('.tif'))).toHaveLength(24);
    for (const [id, r] of serial.outcome.results) {
      const d = distributed.outcome.results.get(id)!;
      expect(d.measurements).toEqual(r.measurements);
      expect(d.outputs).toEqual(r.outputs);
    }
    // Both worker processes took part, and each task ran exactly once.
    const byWorker = workers.map((w) => doneBy(w, executor.runId));
    expect(byWorker.every((ids) => ids.length > 0), JSON.stringify(byWorker)).toBe(true);
    expect(byWorker.flat().sort()).toEqual(['A01', 'A02', 'A03', 'A04', 'A05', 'A06']);
  });

  it('a batch of two plates runs on the workers with one queue, and status finds the run from the batch folder', async () => {
    const second = (await synthesizePlate(path.join(dir, 'plate-2'), { wells: 3, sites: 1, channels: 1, z: 2, size: 48, seed: 9 })).root;
    const executor = new BullmqExecutor({ redis: url, queue });
    const out = path.join(dir, 'batch-out');
    const order: string[] = [];
    const batch = await runBatch([plate, second], {
      pipeline: STANDARD,
      out,
      executor,
      onEvent: (event, name) => {
        if (event.type === 'run:all-started' || event.type === 'run:start') order.push(`${name} ${event.type}`);
      },
    }).finally(() => executor.close());
    expect(batch.runs.map((r) => [r.name, r.run.totals.ok])).toEqual([['plate', 6], ['plate-2', 3]]);
    // The second plate was queued once the first plate's jobs were all in the queue.
    expect(order).toEqual(['plate run:start', 'plate run:all-started', 'plate-2 run:start', 'plate-2 run:all-started']);
    const shown = cli(['status', out]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('9 task(s): 9 done');
  });

  it('status shows where a run stands; resuming a run re-enqueues only its unfinished tasks', async () => {
    const flag = path.join(dir, 'fail-flag');
    await writeFile(flag, '');
    const pipeline = path.join(dir, 'flaky.json');
    await writeFile(
      pipeline,
      JSON.stringify({
        modules: [path.join(FIXTURES, 'fail-while-file.mjs')],
        steps: [
          { name: 'project', func: [['fail_while_file', { well: 'A04', flag }], 'max_projection'], variableComponents: ['z'], backend: 'disk' },
          { name: 'count', func: { '#1': [['gaussian_blur', { sigma: 1 }], 'otsu_threshold', 'label', 'count_objects'] }, variableComponents: ['site'], groupBy: 'channel' },
        ],
      }),
    );
    const out = path.join(dir, 'flaky-out');
    const first = new BullmqExecutor({ redis: url, queue });
    const runId = first.runId;
    const one = await runPlate(plate, { pipeline, out, executor: first }).finally(() => first.close());
    expect(one.outcome.results.get('A04')).toMatchObject({ status: 'error', error: { code: 'E_STEP_FAILED' } });
    expect(one.totals).toMatchObject({ ok: 5, failed: 1 });

    const status = await getRunStatus({ redis: url, queue, runId });
    expect(status.counts).toMatchObject({ done: 5, failed: 1, active: 0, waiting: 0 });
    expect(status.statuses).toEqual({ ok: 5, error: 1 });
    const shown = cli(['status', runId, '--redis', url, '--queue', queue]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('6 task(s): 5 done, 0 active, 0 waiting, 1 failed');
    expect(shown.stdout).toMatch(/PROBLEMS:\n\s+A04\s+error after 1 attempt\(s\): .*deliberate failure in well A04/);
    // The output folder records the run, so status finds it from there.
    const recorded = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as { executorRun?: { kind: string; runId: string } };
    expect(recorded.executorRun).toMatchObject({ kind: 'bullmq', runId });
    const byFolder = cli(['status', out]);
    expect(byFolder.code, byFolder.stderr).toBe(0);
    expect(byFolder.stdout).toContain('6 task(s): 5 done, 0 active, 0 waiting, 1 failed');

    // Fix the cause, resume the same run: only A04 runs again, the other five are reused.
    await unlink(flag);
    const ranBefore = workers.flatMap((w) => doneBy(w, runId)).length;
    const second = new BullmqExecutor({ redis: url, queue, runId });
    const two = await runPlate(plate, { pipeline, out, executor: second }).finally(() => second.close());
    // Five are resumed without being enqueued at all; only A04 is computed.
    expect(two.totals).toMatchObject({ tasks: 6, ok: 1, resumed: 5 });
    expect([...two.outcome.results.values()].filter((r) => r.resumed === 'task').map((r) => r.taskId)).toEqual(['A01', 'A02', 'A03', 'A05', 'A06']);
    expect(workers.flatMap((w) => doneBy(w, runId)).length - ranBefore).toBe(1);
    expect(workers.flatMap((w) => doneBy(w, runId)).filter((t) => t === 'A04')).toHaveLength(2);
    expect((await getRunStatus({ redis: url, queue, runId })).counts).toMatchObject({ done: 6, failed: 0 });
    // One row set per task in the merged measurements, as in an uninterrupted run.
    const csv = (await readFile(path.join(out, 'measurements.csv'), 'utf8')).trim().split('\n');
    expect(new Set(csv).size).toBe(csv.length);
  });

  it('workers refuse plans naming paths outside their --roots, and nothing is written', async () => {
    const outside = await tempDir('plateflow-bullmq-outside-');
    const executor = new BullmqExecutor({ redis: url, queue });
    const run = await runPlate(plate, { pipeline: STANDARD, out: path.join(outside, 'out'), executor, preflight: false }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 6, ok: 0, failed: 6 });
    for (const r of run.outcome.results.values()) {
      expect(r.status).toBe('error');
      expect(r.error).toMatchObject({ code: 'E_PATH_UNSAFE' });
      expect(r.error!.message).toContain("outside the worker's roots");
    }
    expect((await listFiles(path.join(outside, 'out'))).filter((f) => f.endsWith('.tif'))).toEqual([]);
  });

  it('connects with a username and password, and never prints the password', async () => {
    const admin = new Redis(url);
    const user = `pf-test-${process.pid}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>s3cret-pass', '~*', '&*', '+@all');
    try {
      const authUrl = `redis://${user}:s3cret-pass@127.0.0.1:6390`;
      const authQueue = uniqueQueue('auth');
      const worker = await startWorkerProcess(['--queue', authQueue, '--roots', dir, '--concurrency', '1'], { PLATEFLOW_REDIS_URL: authUrl });
      expect(JSON.stringify(worker.events)).not.toContain('s3cret');
      const executor = new BullmqExecutor({ redis: authUrl, queue: authQueue });
      const run = await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'auth-out'), executor, axisFilter: 'A01' }).finally(() => executor.close());
      expect(run.totals).toMatchObject({ tasks: 1, ok: 1 });
      expect(await worker.stop()).toBe(0);

      const wrong = cli(['worker', '--redis', `redis://${user}:wrong-pass@127.0.0.1:6390`, '--roots', dir], { timeout: 20_000 });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/cannot reach Redis at redis:\/\/pf-test-\d+:\*\*\*@127\.0\.0\.1:6390/);
      expect(wrong.stderr).not.toContain('wrong-pass');
    } finally {
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  });

  it('plateflow run --executor bullmq runs through the workers, prints the run id, and status finds it', async () => {
    const out = path.join(dir, 'cli-out');
    const r = cli(['run', plate, '-p', STANDARD, '-o', out, '--executor', 'bullmq', '--redis', url, '--queue', queue, '--json'], { timeout: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 6, ok: 6, failed: 0 });
    const runId = /bullmq run (run-[\w.-]+) on queue/.exec(r.stderr)?.[1];
    expect(runId, r.stderr).toBeDefined();
    expect((await getRunStatus({ redis: url, queue, runId: runId! })).counts).toMatchObject({ done: 6 });
    await workersIdle(workers);
    expect((await sameOutputs(path.join(dir, 'serial'), out)).differ).toEqual([]);
    const noRedis = cli(['run', plate, '-p', STANDARD, '-o', out, '--executor', 'bullmq'], { env: { PLATEFLOW_REDIS_URL: '' }, timeout: 20_000 });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toContain('--executor bullmq needs --redis <url> or PLATEFLOW_REDIS_URL');
  });

  it('explains a missing or bad --roots and a missing Redis URL', () => {
    const noRoots = cli(['worker', '--redis', url, '--roots', path.join(os.tmpdir(), 'plateflow-no-such-root')], { timeout: 20_000 });
    expect(noRoots.code).toBe(2);
    expect(noRoots.stderr).toContain('--roots entry');
    const noRedis = cli(['status', 'run-x'], { env: { PLATEFLOW_REDIS_URL: '' }, timeout: 20_000 });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toContain('PLATEFLOW_REDIS_URL');
    const unknown = cli(['status', 'run-does-not-exist', '--redis', url, '--queue', queue], { timeout: 20_000 });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('E_NOT_FOUND');
  });
});

if (!REDIS_AVAILABLE) console.warn(`bullmq-run: skipped: ${SKIP_MESSAGE}`);
