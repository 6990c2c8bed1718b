/**
 * Finding a BullMQ run again: the executor describes its run (id, queue, prefix, Redis address
 * without secrets) for results.json, and `plateflow status` takes either the run id or the run's
 * output folder. The results.json here gets its `executorRun` by hand, as the run writes it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqExecutor } from '../src/distributed/index.js';
import { runPlate } from '../src/run/run-plate.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, SKIP_MESSAGE, allGone, ensureRedis, startWorkerProcess, uniqueQueue, type WorkerProcess } from './bullmq-helpers.js';
import { STANDARD, cli, tempDir } from './helpers.js';

describe('BullmqExecutor.describe()', () => {
  it('gives the run id, queue, prefix and host:port/db, never a user or password', () => {
    const executor = new BullmqExecutor({ redis: 'redis://alice:s3cret@redis-host:6400/3', queue: 'gpu', runId: 'run-a' });
    expect(executor.describe()).toEqual({ kind: 'bullmq', runId: 'run-a', details: { queue: 'gpu', prefix: 'plateflow', redis: 'redis-host:6400/3' } });
    expect(JSON.stringify(executor.describe())).not.toMatch(/alice|s3cret/);
    expect(new BullmqExecutor({ redis: { host: '::1', password: 'x' } }).describe().details).toMatchObject({ redis: '[::1]:6379/0' });
  });
});

describe.skipIf(!REDIS_AVAILABLE)('plateflow status <output folder>', () => {
  let url: string;
  let dir: string;
  let queue: string;
  let out: string;
  let runId: string;
  let worker: WorkerProcess;
  const noEnv = { PLATEFLOW_REDIS_URL: '' };

  beforeAll(async () => {
    url = await ensureRedis();
    dir = await tempDir('plateflow-bullmq-status-');
    const plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 2, sites: 1, channels: 2, z: 2, size: 32, seed: 11 })).root;
    queue = uniqueQueue('status');
    worker = await startWorkerProcess(['--redis', url, '--queue', queue, '--roots', dir, '--concurrency', '1', '--quiet']);
    out = path.join(dir, 'out');
    const executor = new BullmqExecutor({ redis: url, queue });
    runId = executor.runId;
    const run = await runPlate(plate, { pipeline: STANDARD, out, executor }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 2, ok: 2 });
    const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(out, 'results.json'), JSON.stringify({ ...results, executorRun: executor.describe() }, null, 2));
  });

  afterAll(async () => {
    const children = [...worker.children];
    await worker.stop();
    await allGone([...children, worker.pid]);
  });

  it('reads the run id, queue and Redis address from results.json (folder or file)', () => {
    for (const target of [out, path.join(out, 'results.json')]) {
      const r = cli(['status', target], { env: noEnv, timeout: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`run ${runId} (queue "${queue}")`);
      expect(r.stdout).toContain('2 task(s): 2 done');
    }
    const json = cli(['status', out, '--json'], { env: noEnv, timeout: 30_000 });
    expect(JSON.parse(json.stdout)).toMatchObject({ runId, queue, total: 2, counts: { done: 2 } });
  });

  it('--redis overrides the recorded address; PLATEFLOW_REDIS_URL is used only for the same server', () => {
    const overridden = cli(['status', out, '--redis', 'redis://127.0.0.1:1'], { env: noEnv, timeout: 30_000 });
    expect(overridden.code).toBe(2);
    expect(overridden.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1');
    // Another server's URL (and its password) is not used: the recorded address answers.
    const elsewhere = cli(['status', out], { env: { PLATEFLOW_REDIS_URL: 'redis://:other-pass@127.0.0.1:1/0' }, timeout: 30_000 });
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    // The same server's URL is used, with its credentials (here a user that does not exist, so it is refused).
    const same = cli(['status', out], { env: { PLATEFLOW_REDIS_URL: 'redis://pf-nobody:wrong-pass@127.0.0.1:6390/0' }, timeout: 30_000 });
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/cannot reach Redis at redis:\/\/pf-nobody:\*\*\*@127\.0\.0\.1:6390\/0/);
    expect(same.stderr).not.toContain('wrong-pass');
  });

  it('says clearly when a folder does not lead to a BullMQ run', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const none = cli(['status', empty], { env: noEnv, timeout: 30_000 });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`[E_NOT_FOUND] no results.json in ${empty}`);

    const local = path.join(dir, 'local');
    await mkdir(local);
    await writeFile(path.join(local, 'results.json'), JSON.stringify({ plateflow: 1, executor: 'threads', executorRun: { kind: 'threads' } }));
    const threads = cli(['status', local], { env: noEnv, timeout: 30_000 });
    expect(threads.code).toBe(2);
    expect(threads.stderr).toContain('is of a run on the "threads" executor; plateflow status follows runs of --executor bullmq only');

    await writeFile(path.join(local, 'results.json'), JSON.stringify({ plateflow: 1, executor: 'bullmq' }));
    const older = cli(['status', local], { env: noEnv, timeout: 30_000 });
    expect(older.code).toBe(2);
    expect(older.stderr).toContain('records no executor run');

    await writeFile(path.join(local, 'results.json'), JSON.stringify({ executorRun: { kind: 'bullmq', runId, details: { queue, prefix: 'plateflow', redis: 'redis://x' } } }));
    const damaged = cli(['status', local], { env: noEnv, timeout: 30_000 });
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toContain('executorRun.details.redis in');

    const missing = cli(['status', path.join(dir, 'no-such-folder')], { env: noEnv, timeout: 30_000 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no folder');
  });
});

if (!REDIS_AVAILABLE) console.warn(`bullmq-status: skipped: ${SKIP_MESSAGE}`);
