/**
 * `plateflow dashboard <run-id>`: a BullMQ run is found from its record in Redis (a batch: the
 * batch folder its plates write into), a Slurm run as `plateflow status` finds it (squeue names
 * its run folder), and each is served from its output folder. Real Redis, real worker process,
 * real one-node Slurm cluster; each part skips, saying why, where those are missing.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../dist/distributed/slurm/executor.js';
import { runPlate } from '../dist/run/run-plate.js';
import { BullmqExecutor } from '../src/distributed/index.js';
import { runBatch } from '../src/run/run-batch.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, ensureRedis, startWorkerProcess, uniqueQueue, type WorkerProcess } from './bullmq-helpers.js';
import { serve, snapshot, statuses, type Served } from './dashboard-helpers.js';
import { STANDARD, cli, tempDir, waitFor } from './helpers.js';
import { SLURM_AVAILABLE, ensureSlurmCluster } from './slurm-helpers.js';

const tiny = { sites: 1, channels: 1, z: 2, size: 32, seed: 2 };

async function finishedStatuses(served: Served): Promise<Record<string, Record<string, string>>> {
  const snap = await waitFor('the served run to show finished', async () => {
    const s = await snapshot(served);
    return s.run.state === 'finished' && s;
  }, 30_000);
  return statuses(snap);
}

async function stop(served: Served | undefined): Promise<void> {
  if (!served) return;
  served.child.kill('SIGTERM');
  await served.exited;
}

describe.skipIf(!REDIS_AVAILABLE)('plateflow dashboard <run-id> of a BullMQ run', () => {
  let url: string;
  let dir: string;
  let queue: string;
  let worker: WorkerProcess;

  beforeAll(async () => {
    url = await ensureRedis();
    dir = await tempDir('plateflow-dashboard-bullmq-');
    queue = uniqueQueue('dashboard');
    worker = await startWorkerProcess(['--redis', url, '--queue', queue, '--roots', dir, '--concurrency', '2', '--quiet']);
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it('serves the batch folder the run wrote into, found from the run record in Redis', async () => {
    const plates = [await synthesizePlate(path.join(dir, 'p1'), { wells: 2, ...tiny }), await synthesizePlate(path.join(dir, 'p2'), { wells: 1, ...tiny })].map((p) => p.root);
    const out = path.join(dir, 'batch-out');
    const executor = new BullmqExecutor({ redis: url, queue });
    const batch = await runBatch(plates, { pipeline: STANDARD, out, executor }).finally(() => executor.close());
    expect(batch.runs.map((r) => r.run.totals.ok)).toEqual([2, 1]);
    let served: Served | undefined;
    try {
      served = await serve(['dashboard', executor.runId, '--redis', url, '--queue', queue, '--port', '0']);
      expect(served.stderr()).toContain(`run ${executor.runId}: serving ${out}`);
      expect(await finishedStatuses(served)).toEqual({ p1: { A01: 'ok', A02: 'ok' }, p2: { A01: 'ok' } });
    } finally {
      await stop(served);
    }
  }, 120_000);

  it('a run id Redis has no record of is an error naming it (exit 2)', () => {
    const r = cli(['dashboard', 'run-20000101-000000-000000', '--redis', url, '--queue', queue]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\[E_NOT_FOUND\].*run-20000101-000000-000000/);
  });
});

describe.skipIf(!SLURM_AVAILABLE)('plateflow dashboard <run-id> of a Slurm run', () => {
  it('serves the output folder holding the run, found from the run id while Slurm lists its jobs', async () => {
    ensureSlurmCluster();
    const dir = await tempDir('plateflow-dashboard-slurm-');
    const plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 2, ...tiny })).root;
    const out = path.join(dir, 'out');
    const executor = createSlurmExecutor({ pollIntervalMs: 200 });
    const run = await runPlate(plate, { pipeline: STANDARD, out, executor }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 2, ok: 2 });
    let served: Served | undefined;
    try {
      served = await serve(['dashboard', executor.runId, '--port', '0']);
      expect(served.stderr()).toContain(`run ${executor.runId}: serving ${out}`);
      expect(await finishedStatuses(served)).toEqual({ plate: { A01: 'ok', A02: 'ok' } });
    } finally {
      await stop(served);
    }
  }, 240_000);
});

describe('plateflow dashboard <something else>', () => {
  it('neither a folder nor a run id it can look up: exit 2, saying what was tried', () => {
    const env = { ...process.env };
    delete env.PLATEFLOW_REDIS_URL;
    const r = cli(['dashboard', 'no-such-run-or-folder'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_DASHBOARD\] no-such-run-or-folder: no such folder, and not the id of a Slurm run squeue lists; for a BullMQ run give --redis <url>/);
    const path = cli(['dashboard', '/no/such/folder'], { env });
    expect(path.code).toBe(2);
    expect(path.stderr).toContain('/no/such/folder');
  });
});
