/**
 * The slurm executor on the real one-node cluster: byte-identical to a serial run, an element
 * scancelled mid-task retried, memory over --slurm-mem killed with its cause, Ctrl-C leaving
 * nothing queued, a killed coordinator adopting its arrays, bad options refused before anything runs.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../dist/distributed/slurm/executor.js';
import { runPlate } from '../dist/run/run-plate.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import { sameOutputs, waitFor } from './bullmq-helpers.js';
import { CLI, REPO, STANDARD, cli, lastJsonLine, tempDir, writePipeline } from './helpers.js';
import { SLURM_AVAILABLE, elementOf, ensureSlurmCluster, queuedElements, submissionsOf } from './slurm-helpers.js';

const STEPS = path.join(REPO, 'test', 'fixtures', 'steps');
const slowly = { timeout: 240_000 };
// Run ids of their own, so that elements a failed earlier test run left in the queue never count.
const ADOPT = `adopt-${process.pid}`;
const CTRL_C = `ctrl-c-${process.pid}`;

describe.skipIf(!SLURM_AVAILABLE)('slurm executor on a real cluster', () => {
  let dir: string;
  let plate: string;

  // A test that failed half-way must not leave elements holding the cluster's CPUs.
  afterAll(() => {
    for (const run of [ADOPT, CTRL_C]) execFileSync('scancel', [`--name=plateflow-${run}`]);
  });

  beforeAll(async () => {
    ensureSlurmCluster();
    dir = await tempDir('plateflow-slurm-');
    plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 4, sites: 1, channels: 2, z: 2, size: 48, seed: 11 })).root;
  });

  /** max projection, then `fn` on every stack (a test fixture from test/fixtures/steps). */
  const withStep = (file: string, fn: string, kwargs: Record<string, unknown>) =>
    writePipeline(path.join(dir, `${fn}-${Object.keys(kwargs).join('-')}-${Date.now()}.json`), {
      modules: [path.join(STEPS, file)],
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        { name: 'step', func: [[fn, kwargs]], backend: 'disk' },
      ],
    });

  it('a plate through Slurm arrays equals the serial run byte for byte; --mem defaults from the preflight estimate', slowly, async () => {
    await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'serial') });
    const executor = createSlurmExecutor({ pollIntervalMs: 200 });
    const messages: string[] = [];
    const onEvent = (event: { type: string; message?: string }) => void (event.type === 'log' && messages.push(event.message!));
    const run = await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'slurm'), executor, preflight: { workers: 1 }, onEvent }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 4, ok: 4, failed: 0 });
    // 48² planes are far below the floor: the request is the floor, said with its reasons.
    expect(messages).toContainEqual(expect.stringMatching(/^--slurm-mem not given: each element requests --mem=512M \(task peak \d+ MiB from the preflight estimate/));
    expect(messages).toContainEqual(expect.stringMatching(/^--slurm-time not given: elements get partition debug's time limit \(no DefaultTime, so its MaxTime 7-00:00:00\)/));
    expect(readFileSync(path.join(executor.runDir!, 'submissions', '0.sh'), 'utf8')).toMatch(/^#SBATCH --mem=512M$/m);
    const { differ, files } = await sameOutputs(path.join(dir, 'serial'), path.join(dir, 'slurm'), ['results.json', 'report.html', '.plateflow/slurm/']);
    expect(differ).toEqual([]);
    expect(files.filter((f) => f.endsWith('.tif'))).toHaveLength(8);
    expect(submissionsOf(executor.runDir!)).toEqual([0]);
    // An element may still be completing after writing its result; none stays.
    await waitFor('the elements to leave the queue', () => queuedElements(executor.runId).length === 0, 60_000);
  });

  it('an element scancelled mid-task ends killed "outside plateflow" and --retries resubmits it; the run completes', slowly, async () => {
    const announce = path.join(dir, 'announce-scancel');
    await mkdir(announce);
    const pipeline = await withStep('spin-once-on-well.mjs', 'spin_once_on_well', { well: 'A02', announce });
    const executor = createSlurmExecutor({ pollIntervalMs: 200, attempts: 2 });
    const out = path.join(dir, 'scancel');
    const running = runPlate(plate, { pipeline, out, executor }).finally(() => executor.close());
    await waitFor('A02 to spin', () => existsSync(path.join(announce, 'A02.started')), 120_000);
    execFileSync('scancel', [elementOf(executor.runDir!, 'A02')]);
    const run = await running;
    expect(run.totals).toMatchObject({ tasks: 4, ok: 4 });
    expect(run.outcome.results.get('A02')!.attempts).toBe(2);
    expect(submissionsOf(executor.runDir!).sort()).toEqual([0, 1]);
  });

  it('a task over --slurm-mem ends killed with the memory cause; the others finish', slowly, async () => {
    const pipeline = await withStep('rss-hog-on-well.mjs', 'rss_hog_on_well', { well: 'A03', mb: 900 });
    const executor = createSlurmExecutor({ pollIntervalMs: 200, mem: '400M' });
    const run = await runPlate(plate, { pipeline, out: path.join(dir, 'memory'), executor }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 4, ok: 3, failed: 1 });
    const a03 = run.outcome.results.get('A03')!;
    expect(a03.status).toBe('killed');
    expect(a03.error!.message).toMatch(/killed by Slurm for exceeding its memory limit \(--slurm-mem 400M\)/);
  });

  it('Ctrl-C scancels every element of the run, writes the partial results and exits 130', slowly, async () => {
    const announce = path.join(dir, 'announce-ctrl-c');
    await mkdir(announce);
    const pipeline = await withStep('wait-for-file.mjs', 'wait_for_file', { well: '*', announce, release: path.join(dir, 'never') });
    const out = path.join(dir, 'ctrl-c');
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--executor', 'slurm', '--run-id', CTRL_C, '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // On 2 cores two elements run at once; the others wait in the queue.
    await waitFor('two elements to run', () => readdirSync(announce).filter((f) => f.endsWith('.started')).length >= 2, 120_000).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    expect(queuedElements(CTRL_C).length).toBe(4);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await waitFor('the queue to forget the run', () => queuedElements(CTRL_C).length === 0, 60_000);
    expect(existsSync(path.join(out, 'results.json'))).toBe(true);
  });

  it('a coordinator killed with -9 and restarted with the same --run-id adopts its elements: nothing is submitted twice', slowly, async () => {
    const announce = path.join(dir, 'announce-adopt');
    const release = path.join(dir, 'release-adopt');
    await mkdir(announce);
    const pipeline = await withStep('wait-for-file.mjs', 'wait_for_file', { well: '*', announce, release });
    const out = path.join(dir, 'adopt');
    const args = ['run', plate, '-p', pipeline, '-o', out, '--executor', 'slurm', '--run-id', ADOPT, '--json'];
    const first = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    const firstExit = new Promise((resolve) => first.once('exit', resolve));
    try {
      await waitFor('two elements to run', () => readdirSync(announce).filter((f) => f.endsWith('.started')).length >= 2, 120_000);
    } finally {
      first.kill('SIGKILL');
      await firstExit;
    }
    expect(queuedElements(ADOPT).length).toBe(4);
    // Without its coordinator, the run is found by its id (Slurm lists its jobs) and read from its folder.
    const during = cli(['status', ADOPT, '--json']);
    expect(during.code, during.stderr).toBe(0);
    const seen = JSON.parse(during.stdout) as { total: number; counts: Record<string, number> };
    expect(seen.total).toBe(4);
    expect(seen.counts['active']! + seen.counts['waiting']!).toBe(4);
    await writeFile(release, '');
    const second = cli(args, { timeout: 180_000 });
    expect(second.code, second.stderr).toBe(0);
    // Elements that finished before the restart are resumed from their checkpoints, the others adopted.
    const totals = lastJsonLine(second.stdout) as { tasks: number; ok: number; resumed: number; failed: number };
    expect(totals).toMatchObject({ tasks: 4, failed: 0 });
    expect(totals.ok + totals.resumed).toBe(4);
    expect(submissionsOf(path.join(out, '.plateflow', 'slurm', ADOPT))).toEqual([0]);
    const after = cli(['status', out]);
    expect(after.stdout).toMatch(/^run adopt-\d+ \(queue "slurm"\).*\n  4 task\(s\): 4 done, 0 active, 0 waiting, 0 failed\n  results: ok 4/);
    // Each task ran exactly once: one announcement per well.
    expect(readdirSync(announce).filter((f) => f.endsWith('.started')).sort()).toEqual(['A01.started', 'A02.started', 'A03.started', 'A04.started']);
  });

  it('more tasks than an array may hold go in several arrays, each numbered from 0; slurm-script shows the split', slowly, async () => {
    const executor = createSlurmExecutor({ pollIntervalMs: 200, maxArraySize: 3 });
    const run = await runPlate(plate, { pipeline: STANDARD, out: path.join(dir, 'split'), executor }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 4, ok: 4 });
    expect(submissionsOf(executor.runDir!).sort()).toEqual([0, 1]);
    const arrays = [0, 1].map((n) => readFileSync(path.join(executor.runDir!, 'submissions', `${n}.sh`), 'utf8').match(/^#SBATCH --array=(.*)$/m)![1]);
    expect(arrays).toEqual(['0-2', '0-0']);
    const script = cli(['slurm-script', plate, '-p', STANDARD, '-o', path.join(dir, 'split-script'), '--slurm-max-array-size', '3', '--slurm-mem', '2G', '--run-id', 'shown']);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^# 4 task\(s\) in 2 array\(s\) of at most 3 \(MaxArraySize \d+, --slurm-max-array-size 3\); the first:\n#!\/bin\/bash\n/);
    expect(script.stdout).toContain('#SBATCH --array=0-2\n');
    expect(script.stdout).toContain('#SBATCH --mem=2G\n');
    expect(script.stdout).toMatch(/slurm-element .*split-script\/\.plateflow\/slurm\/shown 0\n$/);
    expect(existsSync(path.join(dir, 'split-script', '.plateflow', 'slurm'))).toBe(false);
  });

  it('py: steps run in the elements with the interpreter the plan names: outputs and measurements equal a serial run', slowly, async () => {
    const python = '/usr/bin/python3';
    if (spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) return void console.warn(`skipped: ${python} has no numpy`);
    const pipeline = await writePipeline(path.join(dir, 'python.json'), {
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        { name: 'bright', func: [['gaussian_blur', { sigma: 1 }], [`py:${path.join(REPO, 'test', 'fixtures', 'python', 'pipeline_steps.py')}:count_bright`, { threshold: 1000 }]], backend: 'disk' },
      ],
    });
    await runPlate(plate, { pipeline, out: path.join(dir, 'python-serial'), python });
    const executor = createSlurmExecutor({ pollIntervalMs: 200 });
    const messages: string[] = [];
    const onEvent = (event: { type: string; message?: string }) => void (event.type === 'log' && messages.push(event.message!));
    const run = await runPlate(plate, { pipeline, out: path.join(dir, 'python-slurm'), executor, python, preflight: { workers: 1 }, onEvent }).finally(() => executor.close());
    expect(run.totals).toMatchObject({ tasks: 4, ok: 4 });
    expect(messages).toContainEqual(expect.stringContaining('160 MiB for its Python process'));
    const { differ } = await sameOutputs(path.join(dir, 'python-serial'), path.join(dir, 'python-slurm'), ['results.json', 'report.html', '.plateflow/slurm/']);
    expect(differ).toEqual([]);
    expect(readFileSync(path.join(dir, 'python-slurm', 'measurements.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'python-serial', 'measurements.csv'), 'utf8'));
  });

  it('--slurm-gres gpu:1 compiles for a GPU this machine lacks; each task runs on the device Slurm gave its element', slowly, async () => {
    // The test cluster has two pretend GPUs (scripts/slurm-cluster.sh): Slurm schedules them and
    // sets CUDA_VISIBLE_DEVICES; report_env (a GPU function) measures what its worker saw.
    if (!/Gres=gpu:[1-9]/.test(execFileSync('scontrol', ['show', 'node'], { encoding: 'utf8' }))) return void console.warn('skipped: this Slurm cluster has no gpu gres');
    const pipeline = await writePipeline(path.join(dir, 'gpu.json'), {
      modules: [path.join(STEPS, 'report-env.mjs')],
      steps: [{ name: 'env', func: 'report_env', variableComponents: ['z'], backend: 'disk' }],
    });
    const seen = async (gres: string | undefined, out: string) => {
      const executor = createSlurmExecutor({ pollIntervalMs: 200, ...(gres ? { gres } : {}) });
      const run = await runPlate(plate, { pipeline, out: path.join(dir, out), executor }).finally(() => executor.close());
      expect(run.totals).toMatchObject({ tasks: 4, ok: 4 });
      return [...run.outcome.results.values()].map((r) => r.measurements[0]!);
    };
    // Two elements at once get different devices: each worker sees only its own.
    for (const m of await seen('gpu:1', 'gres-gpu')) {
      expect(m.fn).toBe('report_env');
      expect([0, 1]).toContain(m.values.gpu);
      expect(m.values.cuda).toBe(m.values.gpu);
    }
    for (const m of await seen(undefined, 'gres-none')) expect(m).toMatchObject({ fn: 'report_env_cpu', values: { gpu: -1, cuda: -1 } });
  });

  it('plateflow batch --executor slurm runs every plate\'s tasks through Slurm and equals the serial batch', slowly, async () => {
    const second = (await synthesizePlate(path.join(dir, 'plate-b'), { wells: 2, sites: 1, channels: 1, z: 2, size: 32, seed: 5 })).root;
    const serial = cli(['batch', plate, second, '-p', STANDARD, '-o', path.join(dir, 'batch-serial'), '--executor', 'serial', '--quiet']);
    expect(serial.code, serial.stderr).toBe(0);
    const slurm = cli(['batch', plate, second, '-p', STANDARD, '-o', path.join(dir, 'batch-slurm'), '--executor', 'slurm', '--quiet'], { timeout: 200_000 });
    expect(slurm.code, slurm.stderr).toBe(0);
    for (const name of ['plate', 'plate-b']) {
      const { differ, files } = await sameOutputs(path.join(dir, 'batch-serial', name), path.join(dir, 'batch-slurm', name), ['results.json', 'report.html', '.plateflow/slurm/']);
      expect(differ, name).toEqual([]);
      expect(files.some((f) => f.endsWith('.tif'))).toBe(true);
    }
  });

  it('bad options and a missing partition are refused before anything is submitted (exit 2, sbatch\'s message)', slowly, async () => {
    const nope = cli(['run', plate, '-p', STANDARD, '-o', path.join(dir, 'nope'), '--executor', 'slurm', '--slurm-partition', 'no_such_partition']);
    expect(nope.code, nope.stderr).toBe(2);
    expect(nope.stderr).toMatch(/\[E_SLURM_REJECTED\].*(invalid partition|no_such_partition)/i);
    const bad = cli(['run', plate, '-p', STANDARD, '-o', path.join(dir, 'bad'), '--executor', 'slurm', '--slurm-option=--array=1-3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--array is set by plateflow/);
    const noSlurm = cli(['run', plate, '-p', STANDARD, '-o', path.join(dir, 'no-slurm'), '--executor', 'slurm'], { env: { PLATEFLOW_SLURM_BIN: path.join(dir, 'no-slurm-here') } });
    expect(noSlurm.code).toBe(2);
    expect(noSlurm.stderr).toMatch(/\[E_SLURM_UNAVAILABLE\]/);
  });
});
