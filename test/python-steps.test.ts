/**
 * Python functions as pipeline steps, end to end: real plates, real worker threads and processes,
 * Debian's /usr/bin/python3 with numpy, scipy and scikit-image (installed by .ci/run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExecutor } from '../dist/execution/executors/create.js';
import type { ExecutorKind } from '../dist/execution/executors/options.js';
import { runPlate, type PlateRun } from '../dist/run/run-plate.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import { CLI, REPO, cli, isRunning, tempDir, waitUntilGone, writePipeline } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const STEPS = path.join(REPO, 'test', 'fixtures', 'python', 'pipeline_steps.py');
const HAS_PYTHON = spawnSync(PYTHON, ['-c', 'import numpy, scipy, skimage'], { stdio: 'ignore' }).status === 0;

let dir: string;
let plate: string;

beforeAll(async () => {
  dir = await tempDir('plateflow-python-');
  plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 4, sites: 1, channels: 1, z: 2, size: 64, seed: 7 })).root;
});

async function run(pipeline: Record<string, unknown>, name: string, kind: ExecutorKind = 'threads', extra: { timeoutMs?: number } = {}): Promise<PlateRun> {
  const executor = createExecutor(kind, { workers: 2, ...extra });
  try {
    return await runPlate(plate, { pipeline: await writePipeline(path.join(dir, `${name}.json`), pipeline), out: path.join(dir, name), executor, python: PYTHON });
  } finally {
    await executor.close();
  }
}

/** One Python call per task: the projection of the well, then `call` on it. */
function projectThen(call: readonly [string, Record<string, unknown>]): Record<string, unknown> {
  return { steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' }, { name: 'python', func: [call], backend: 'disk' }] };
}

const statuses = (r: PlateRun) => [...r.outcome.results.values()].map((t) => t.status).sort();

describe.skipIf(!HAS_PYTHON)('Python steps', () => {
  it('py:skimage.filters:gaussian agrees with the built-in gaussian_blur to float tolerance', async () => {
    const steps = (func: unknown) => ({ steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' }, { name: 'blur', func, backend: 'disk' }] });
    const builtin = await run(steps([['gaussian_blur', { sigma: 2 }]]), 'gauss-builtin');
    const python = await run(steps([['py:skimage.filters:gaussian', { sigma: 2, mode: 'reflect', truncate: 4.0, preserve_range: true }]]), 'gauss-python');
    expect(statuses(python)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const { readTiff } = await import('../dist/storage/tiff-read.js');
    for (const file of await readdir(path.join(dir, 'gauss-builtin', '2_blur'))) {
      const a = await readTiff(path.join(dir, 'gauss-builtin', '2_blur', file));
      const b = await readTiff(path.join(dir, 'gauss-python', '2_blur', file));
      expect(b.dtype).toBe('float32');
      let worst = 0;
      for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
      expect(worst, file).toBeLessThan(1e-2); // uint16 range: float32 rounding of sums of ~100 terms
    }
    expect(builtin.totals.ok).toBe(4);
  });

  it('a user .py file returning measurements: they reach measurements.csv; chains mix Python and built-ins', async () => {
    const r = await run(
      { steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' }, { name: 'bright', func: [['gaussian_blur', { sigma: 1 }], ['py:' + path.relative(dir, STEPS) + ':count_bright', { threshold: 1000 }]], backend: 'disk' }] },
      'measured',
    );
    expect(statuses(r)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const csv = await readFile(path.join(dir, 'measured', 'measurements.csv'), 'utf8');
    const rows = csv.trim().split('\n').filter((l) => l.includes(',bright,'));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^A01,bright,py:.*pipeline_steps\.py:count_bright,well-A01_site-1_channel-1,/);
  });

  it('consecutive Python functions of a chain: one crossing, each function\'s measurements under its own name, an error naming the one that failed', async () => {
    const pipeline = (second: readonly [string, Record<string, unknown>]) => ({
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        { name: 'python', func: [['py:' + STEPS + ':count_bright', { threshold: 1000 }], second], backend: 'disk' },
      ],
    });
    const both = await run(pipeline(['py:' + STEPS + ':whoami', {}]), 'two-py');
    expect(statuses(both)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const fns = new Set([...both.outcome.results.values()].flatMap((t) => t.measurements.map((m) => `${m.fn.split(':').pop()} ${Object.keys(m.values).join(',')}`)));
    expect([...fns].sort()).toEqual(['count_bright bright', 'whoami pid,omp_threads']);
    const failing = await run(pipeline(['py:' + STEPS + ':raise_once', { flag: path.join(dir, 'two-py-raise.flag') }]), 'two-py-raise');
    const failed = [...failing.outcome.results.values()].find((t) => t.status === 'error')!;
    expect(failed.error!.context?.fn).toMatch(/pipeline_steps\.py:raise_once$/);
  });

  it.each(['threads', 'processes', 'subprocess', 'serial'] as const)('byte-identical outputs and measurements on %s', async (kind) => {
    const pipeline = projectThen(['py:' + STEPS + ':count_bright', { threshold: 1500 }]);
    const reference = await run(pipeline, 'same-threads', 'threads');
    const other = kind === 'threads' ? reference : await run(pipeline, `same-${kind}`, kind);
    expect(other.measurements).toEqual(reference.measurements);
    for (const file of await readdir(path.join(dir, 'same-threads', '2_python'))) {
      expect(await readFile(path.join(dir, `same-${kind}`, '2_python', file))).toEqual(await readFile(path.join(dir, 'same-threads', '2_python', file)));
    }
  });

  it('a last step kept in memory only (its output dropped with the task): the same measurements as when written to disk; a bad result still fails its task', async () => {
    const pipeline = (backend: string, last: readonly [string, Record<string, unknown>]) => ({
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        { name: 'python', func: [['py:' + STEPS + ':count_bright', { threshold: 1000 }], ['gaussian_blur', { sigma: 1 }], last], backend },
      ],
    });
    const rows = (r: PlateRun) => [...r.outcome.results.values()].flatMap((t) => t.measurements).map((m) => JSON.stringify(m)).sort();
    const last = ['py:' + STEPS + ':count_bright', { threshold: 0 }] as const;
    const kept = await run(pipeline('disk', last), 'last-disk');
    const dropped = await run(pipeline('memory', last), 'last-memory');
    expect(statuses(dropped)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(rows(dropped)).toHaveLength(8);
    expect(rows(dropped)).toEqual(rows(kept));
    const bad = await run(pipeline('memory', ['py:' + STEPS + ':wrong_shape_once', { flag: path.join(dir, 'last-memory-shape.flag') }]), 'last-memory-shape');
    expect(statuses(bad)).toEqual(['error', 'ok', 'ok', 'ok']);
    const failed = [...bad.outcome.results.values()].find((t) => t.status === 'error')!;
    expect(failed.error!.code).toBe('E_STEP_FAILED');
    expect(JSON.stringify(failed.error)).toContain('E_PYTHON_RESULT');
  });

  it('one Python process per worker, reused by its tasks, with the worker\'s thread limit', async () => {
    const r = await run(projectThen(['py:' + STEPS + ':whoami', {}]), 'whoami');
    const pids = new Set(Object.values(r.measurements).map((m) => m.pid));
    expect(pids.size).toBeGreaterThanOrEqual(1);
    expect(pids.size).toBeLessThanOrEqual(2); // 4 tasks, 2 workers
    for (const m of Object.values(r.measurements)) expect(m.omp_threads).toBeGreaterThanOrEqual(1);
  });

  it('prepare() starts every thread\'s Python process and imports its modules before the first task; the tasks use them', async () => {
    const { planPlate } = await import('../dist/run/run-plate.js');
    const pipeline = await writePipeline(path.join(dir, 'prepare.json'), projectThen(['py:' + STEPS + ':whoami', {}]));
    const executor = createExecutor('threads', { workers: 2 });
    const zombiesBefore = pythonChildren('Z').length;
    try {
      const planned = await planPlate(plate, { pipeline, out: path.join(dir, 'prepare'), python: PYTHON });
      await executor.prepare!([...planned.tasks.values()]);
      const bridges = bridgeProcesses();
      expect(bridges).toHaveLength(2);
      const r = await runPlate(plate, { pipeline, out: path.join(dir, 'prepare'), executor, python: PYTHON });
      const used = new Set(Object.values(r.measurements).map((m) => m.pid));
      expect([...used].every((pid) => bridges.includes(pid!))).toBe(true);
    } finally {
      await executor.close();
    }
    // A graceful close ends them from their threads, which reap them: no zombie is left behind.
    expect(bridgeProcesses()).toEqual([]);
    expect(pythonChildren('Z').length).toBe(zombiesBefore);
  });

  describe.each(['threads', 'processes'] as const)('on %s, one misbehaving call fails only its task', (kind) => {
    it('an exception: error with the Python traceback (file and line)', async () => {
      const r = await run(projectThen(['py:' + STEPS + ':raise_once', { flag: path.join(dir, `raise-${kind}.flag`) }]), `raise-${kind}`, kind);
      expect(statuses(r)).toEqual(['error', 'ok', 'ok', 'ok']);
      const failed = [...r.outcome.results.values()].find((t) => t.status === 'error')!;
      const chain = JSON.stringify(failed.error);
      expect(chain).toContain('ValueError');
      expect(chain).toContain('deliberate failure in a Python step');
      expect(chain).toMatch(/pipeline_steps\.py.*line \d+|pipeline_steps\.py", line \d+/);
    });

    it.each([['die_once', 'SIGKILL'], ['exit_once', 'exit']] as const)('%s: the task ends killed with the cause; a fresh Python process takes over', async (fn, cause) => {
      const r = await run(projectThen(['py:' + STEPS + ':' + fn, { flag: path.join(dir, `${fn}-${kind}.flag`) }]), `${fn}-${kind}`, kind);
      expect(statuses(r)).toEqual(['killed', 'ok', 'ok', 'ok']);
      const failed = [...r.outcome.results.values()].find((t) => t.status === 'killed')!;
      expect(JSON.stringify(failed.error)).toContain(cause === 'exit' ? 'exit' : 'SIGKILL');
    });

    it('a call past --timeout: the task ends timeout, the others finish', async () => {
      const r = await run(projectThen(['py:' + STEPS + ':sleep_once', { flag: path.join(dir, `sleep-${kind}.flag`), seconds: 3600 }]), `sleep-${kind}`, kind, { timeoutMs: 3000 });
      expect(statuses(r)).toEqual(['ok', 'ok', 'ok', 'timeout']);
    });

    it('a result of the wrong shape: error naming the function', async () => {
      const r = await run(projectThen(['py:' + STEPS + ':wrong_shape_once', { flag: path.join(dir, `shape-${kind}.flag`) }]), `shape-${kind}`, kind);
      expect(statuses(r)).toEqual(['error', 'ok', 'ok', 'ok']);
      const failed = [...r.outcome.results.values()].find((t) => t.status === 'error')!;
      expect(failed.error!.message).toContain('wrong_shape_once');
    });
  });

  it('resume: an unchanged .py file reuses the checkpoints, an edited one recomputes', async () => {
    const code = path.join(dir, 'resume_steps.py');
    await writeFile(code, 'def scale(stack, by):\n    return stack * by\n');
    const pipeline = projectThen(['py:' + code + ':scale', { by: 2 }]);
    const first = await run(pipeline, 'resume');
    expect(first.totals).toMatchObject({ ok: 4, resumed: 0 });
    const again = await run(pipeline, 'resume');
    expect(again.totals).toMatchObject({ ok: 0, resumed: 4 });
    await writeFile(code, 'def scale(stack, by):\n    return stack * (by + 1)\n');
    const edited = await run(pipeline, 'resume');
    expect(edited.totals).toMatchObject({ ok: 4, resumed: 0 });
  });

  it('checked before anything runs: a module that does not import, a missing function, a missing interpreter (exit 2)', async () => {
    const cases: [string, Record<string, unknown>, readonly string[], RegExp][] = [
      ['no-module', projectThen(['py:no_such_module_xyz:f', {}]), ['--python', PYTHON], /\[E_PYTHON_SETUP\] step 2 "python", function py:no_such_module_xyz:f: .*No module named 'no_such_module_xyz'/],
      ['no-function', projectThen(['py:' + STEPS + ':no_such_function', {}]), ['--python', PYTHON], /\[E_PYTHON_SETUP\] step 2 "python", function py:.*pipeline_steps\.py:no_such_function: .*no_such_function/],
      ['no-python', projectThen(['py:' + STEPS + ':whoami', {}]), ['--python', '/nonexistent/python3'], /\[E_PYTHON_SETUP\].*\/nonexistent\/python3/],
    ];
    for (const [name, pipeline, flags, message] of cases) {
      const out = path.join(dir, `setup-${name}`);
      const r = cli(['run', plate, '-p', await writePipeline(path.join(dir, `setup-${name}.json`), pipeline), '-o', out, ...flags]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('Ctrl-C leaves no Python process behind (checked by pid)', async () => {
    const announce = path.join(dir, 'announce-py');
    await mkdir(announce);
    const pipeline = await writePipeline(path.join(dir, 'ctrl-c.json'), projectThen(['py:' + STEPS + ':announce_and_sleep', { folder: announce }]));
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', path.join(dir, 'ctrl-c'), '--python', PYTHON, '--workers', '2', '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const pids = await waitForPythonPids(announce, 2);
    expect(pids.every(isRunning)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await waitUntilGone(pids);
  });
});

/** This process's Python bridge processes (children running plateflow_bridge.py), zombies excluded. */
function bridgeProcesses(): number[] {
  return pythonChildren('live').filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('plateflow_bridge.py');
    } catch {
      return false;
    }
  });
}

/** Children of this process whose command is python…, live or zombies (whose cmdline is gone, not their name). */
function pythonChildren(which: 'live' | 'Z'): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        return Number(fields[1]) === process.pid && name.startsWith('python') && (fields[0] === 'Z') === (which === 'Z');
      } catch {
        return false;
      }
    });
}

/** The pids `announce_and_sleep` wrote, once `count` of them are there. */
async function waitForPythonPids(folder: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const files = (await readdir(folder)).filter((f) => f.endsWith('.py'));
    if (files.length >= count) return files.map((f) => Number(f.slice(0, -3)));
    if (Date.now() > deadline) throw new Error(`only ${files.length} Python process(es) announced themselves in ${folder}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

if (!HAS_PYTHON) console.warn(`python-steps: skipped: ${PYTHON} with numpy, scipy and scikit-image is needed (apt-get install python3-numpy python3-scipy python3-skimage)`);
