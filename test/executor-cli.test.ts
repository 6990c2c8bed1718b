/**
 * The executor flags of `plateflow run` and its Ctrl-C handling, through the built CLI: the first
 * SIGINT kills running workers, writes partial results and exits 130; no worker outlives it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, isGone, readPid, tinyPlate, waitForFile } from './executor-harness.js';
import { CLI, cli, lastJsonLine, tempDir, waitUntilGone } from './helpers.js';

let dir: string;
let plate: string;

beforeAll(async () => {
  dir = await tempDir('plateflow-cli-exec-');
  plate = path.join(dir, 'plate');
  await tinyPlate(plate, 4);
});

/** A pipeline file: spin_on_well for `well` (announcing in `announce`), then a max projection to disk. */
async function spinPipeline(name: string, well: string, announce?: string): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  const kwargs = { well, ...(announce ? { announce } : {}) };
  await writeFile(file, JSON.stringify({ modules: [fixture('spin-on-well.mjs')], steps: [
    { name: 'spin', func: [['spin_on_well', kwargs]], variableComponents: ['z'], backend: 'memory' },
    { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
  ] }));
  return file;
}

describe('plateflow run --executor …', () => {
  it.each(['threads', 'processes', 'subprocess'])('%s with --timeout ends a stuck task as timeout and finishes the others', async (executor) => {
    // 3 s: healthy tasks must finish inside it even when forking a process per task on a loaded machine.
    const pipeline = await spinPipeline(`timeout-${executor}`, 'A02');
    const out = path.join(dir, `out-timeout-${executor}`);
    const r = cli(['run', plate, '-p', pipeline, '-o', out, '--executor', executor, '--workers', '2', '--timeout', '3s', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 4, ok: 3, failed: 1 });
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { executor: string; tasks: Record<string, { status: string; error?: { message: string } }> };
    expect(results.executor).toBe(executor);
    expect(results.tasks.A02).toMatchObject({ status: 'timeout', error: { message: 'timed out after 3 s' } });
  });

  it('rejects bad values naming the flag', () => {
    for (const [args, message] of [
      [['--timeout', 'soon'], /--timeout must be a positive duration such as 30s.*"soon"/],
      [['--worker-memory', '12'], /--worker-memory must be a size of at least 1MB.*"12"/],
      [['--executor', 'gpu'], /--executor.*gpu.*choices/s],
      [['--workers', '0'], /--workers must be a positive integer/],
      [['--retries', '-1'], /--retries must be an integer ≥ 0/],
    ] as const) {
      const r = cli(['run', plate, '-p', path.join(dir, 'none.json'), ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('Ctrl-C', () => {
  it('first SIGINT kills the workers, writes partial results and exits 130; no worker is left', async () => {
    const announce = path.join(dir, 'announce-sigint');
    await mkdir(announce);
    const pipeline = await spinPipeline('sigint', 'A01', announce);
    const out = path.join(dir, 'out-sigint');
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--executor', 'processes', '--workers', '2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // With --json, progress comes as one JSON event per stderr line: wait for the three healthy tasks.
    let othersDone!: () => void;
    const healthyFinished = new Promise<void>((resolve) => (othersDone = resolve));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if ((stderr.match(/"type":"task:done"[^\n]*"status":"ok"/g) ?? []).length >= 3) othersDone();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await Promise.all([waitForFile(path.join(announce, 'A01.started')), healthyFinished]);
    const workerPid = readPid(path.join(announce, 'A01.started'));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(lastJsonLine(stdout)).toMatchObject({ tasks: 4, cancelled: 1 });
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { tasks: Record<string, { status: string; error?: { message: string } }> };
    expect(results.tasks.A01).toMatchObject({ status: 'cancelled', error: { message: 'aborted: interrupted by SIGINT' } });
    expect(isGone(workerPid)).toBe(true);
  });

  it('a second SIGINT exits at once with 130 and still leaves no worker behind', async () => {
    const announce = path.join(dir, 'announce-sigint2');
    await mkdir(announce);
    const pipeline = await spinPipeline('sigint2', '*', announce);
    const out = path.join(dir, 'out-sigint2');
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--executor', 'processes', '--workers', '2', '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await Promise.all(['A01', 'A02'].map((w) => waitForFile(path.join(announce, `${w}.started`))));
    const pids = ['A01', 'A02'].map((w) => readPid(path.join(announce, `${w}.started`)));
    child.kill('SIGINT');
    child.kill('SIGINT');
    // The second ends plateflow by SIGINT itself; two signals sent together may also merge into one (exit 130).
    const { code, signal } = await exited;
    expect(code === 130 || signal === 'SIGINT', `code ${code}, signal ${signal}`).toBe(true);
    // Its exit hook SIGKILLed them; the kernel ends them within moments (a bound, not a speed).
    await waitUntilGone(pids);
    expect(existsSync(path.join(announce, 'A03.started'))).toBe(false);
  });

  it('if plateflow itself is SIGKILLed, its workers notice the parent is gone and exit', async () => {
    const announce = path.join(dir, 'announce-sigkill');
    await mkdir(announce);
    const pipeline = await spinPipeline('sigkill', '*', announce);
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', path.join(dir, 'out-sigkill'), '--executor', 'processes', '--workers', '2', '--quiet'], { stdio: 'ignore' });
    await Promise.all(['A01', 'A02'].map((w) => waitForFile(path.join(announce, `${w}.started`))));
    const pids = ['A01', 'A02'].map((w) => readPid(path.join(announce, `${w}.started`)));
    child.kill('SIGKILL');
    // Nothing can tell us when an orphan exits (it is not our child), so poll its pid until the
    // orphan guard (checking every 200 ms) has killed it, with a deadline.
    const deadline = performance.now() + 5000;
    while (pids.some((pid) => !isGone(pid)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const pid of pids) expect(isGone(pid), `orphan ${pid}`).toBe(true);
  });
});
