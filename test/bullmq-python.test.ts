/**
 * Python steps on the bullmq executor: real Redis, a real `plateflow worker` process with its own
 * `--python`, byte-identical to a local run; a job names functions, never the interpreter, and a
 * `.py` file outside the worker's roots is refused.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqExecutor } from '../src/distributed/index.js';
import { runPlate } from '../src/run/run-plate.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { REDIS_AVAILABLE, allGone, ensureRedis, listFiles, sameOutputs, startWorkerProcess, uniqueQueue, workersIdle, type WorkerProcess } from './bullmq-helpers.js';
import { REPO, tempDir, writePipeline } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const HAS_NUMPY = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const STEPS = path.join(REPO, 'test', 'fixtures', 'python', 'pipeline_steps.py');

describe.skipIf(!REDIS_AVAILABLE || !HAS_NUMPY)('Python steps on the bullmq executor', () => {
  let url: string;
  let dir: string;
  let plate: string;
  let queue: string;
  let worker: WorkerProcess;
  /** A copy of the fixture inside the worker's roots. */
  let inside: string;

  beforeAll(async () => {
    url = await ensureRedis();
    dir = await tempDir('plateflow-bullmq-python-');
    plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 3, sites: 1, channels: 1, z: 2, size: 48, seed: 5 })).root;
    await mkdir(path.join(dir, 'code'));
    inside = path.join(dir, 'code', 'pipeline_steps.py');
    await copyFile(STEPS, inside);
    queue = uniqueQueue('python');
    worker = await startWorkerProcess(['--redis', url, '--queue', queue, '--roots', dir, '--concurrency', '2', '--python', PYTHON, '--quiet']);
  });

  afterAll(async () => {
    const children = [...worker.children];
    expect(await worker.stop()).toBe(0);
    await allGone([...children, worker.pid]);
  });

  const pipeline = (file: string) => ({
    steps: [
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
      { name: 'python', func: [['gaussian_blur', { sigma: 1 }], [`py:${file}:count_bright`, { threshold: 1200 }]], backend: 'disk' },
    ],
  });

  it('outputs and measurements equal a local run byte for byte; the worker runs its own interpreter', async () => {
    const file = await writePipeline(path.join(dir, 'inside.json'), pipeline(inside));
    const local = await runPlate(plate, { pipeline: file, out: path.join(dir, 'local'), python: PYTHON });
    // The submitter's interpreter lies outside the worker's roots: a worker that ran the plan's
    // interpreter would have to refuse it.
    const submitterPython = path.join(await tempDir('plateflow-submitter-python-'), 'python3');
    await symlink(PYTHON, submitterPython);
    const executor = new BullmqExecutor({ redis: url, queue });
    const remote = await runPlate(plate, { pipeline: file, out: path.join(dir, 'bullmq'), executor, python: submitterPython }).finally(() => executor.close());
    expect(remote.totals).toMatchObject({ tasks: 3, ok: 3, failed: 0 });
    await workersIdle([worker]);
    const { files, differ } = await sameOutputs(path.join(dir, 'local'), path.join(dir, 'bullmq'));
    expect(differ).toEqual([]);
    expect(files.filter((f) => f.endsWith('.tif'))).toHaveLength(3);
    expect(remote.measurements).toEqual(local.measurements);
    expect(await readFile(path.join(dir, 'bullmq', 'measurements.csv'), 'utf8')).toContain(',bright,');
  });

  it('a .py file outside the worker\'s roots is refused, and nothing is written', async () => {
    const outside = await tempDir('plateflow-bullmq-python-outside-');
    const file = await writePipeline(path.join(dir, 'outside.json'), pipeline(path.join(outside, 'steps.py')));
    await copyFile(STEPS, path.join(outside, 'steps.py'));
    const executor = new BullmqExecutor({ redis: url, queue });
    const run = await runPlate(plate, { pipeline: file, out: path.join(dir, 'refused'), executor, python: PYTHON }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 3, ok: 0, failed: 3 });
    for (const r of run.outcome.results.values()) {
      expect(r.error).toMatchObject({ code: 'E_PATH_UNSAFE' });
      expect(r.error!.message).toContain('the Python file of step "python"');
    }
    expect((await listFiles(path.join(dir, 'refused'))).filter((f) => f.endsWith('.tif'))).toEqual([]);
  });
});
