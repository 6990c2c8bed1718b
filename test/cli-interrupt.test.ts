/**
 * Ctrl-C and SIGTERM reach `plateflow run` while a task computes, whatever the executor: the CLI
 * never computes on its main thread (serial and one-worker runs use one worker thread). The task
 * spins on the CPU forever, so the run ending at all proves the signal was heard; nothing here
 * depends on how fast the machine is. Real CLI, real signals, and once a real terminal (tmux).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, isGone, readPid, tinyPlate, waitForFile } from './executor-harness.js';
import { CLI, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let plate: string;
let counter = 0;

beforeAll(async () => {
  dir = await tempDir('plateflow-interrupt-');
  plate = path.join(dir, 'plate');
  await tinyPlate(plate, 3);
});

/** A pipeline whose task for `well` writes `<announce>/<well>.started` (its pid) and then spins forever. */
async function spinning(well: string): Promise<{ pipeline: string; announce: string; out: string }> {
  const n = counter++;
  const announce = path.join(dir, `announce-${n}`);
  await mkdir(announce);
  const pipeline = path.join(dir, `spin-${n}.json`);
  await writeFile(pipeline, JSON.stringify({ modules: [fixture('spin-on-well.mjs')], steps: [
    { name: 'spin', func: [['spin_on_well', { well, announce }]], variableComponents: ['z'], backend: 'memory' },
    { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
  ] }));
  return { pipeline, announce, out: path.join(dir, `out-${n}`) };
}

/**
 * Long enough for a loaded machine to handle a signal and write results many times over; a run
 * that has not exited by then never will (its task spins forever), so it is killed and the test fails.
 */
const NEVER_MS = 60_000;
const TEST_MS = NEVER_MS + 60_000;

interface Started {
  readonly pid: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** How the run ended, or 'hung' when it was still alive after {@link NEVER_MS}. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'>;
  signal(name: NodeJS.Signals): void;
}

function startRun(args: readonly string[]): Started {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, NEVER_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  return { pid: child.pid!, stdout: () => stdout, stderr: () => stderr, exited, signal: (name) => child.kill(name) };
}

type Results = { executor: string; tasks: Record<string, { status: string; error?: { message: string } }> };
const readResults = (out: string): Results => JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;

describe('a reader of the output that goes away', () => {
  // `plateflow run … | tee log` and Ctrl-C in a terminal: the same SIGINT ends tee first, and every
  // later write to the pipe fails. The run must still stop as usual: results written, exit 130.
  it('Ctrl-C with stdout and stderr into pipes nobody reads any more: results.json written, exit 130', async () => {
    const { pipeline, announce, out } = await spinning('A01');
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--executor', 'serial'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitForFile(path.join(announce, 'A01.started'));
    child.stdout.destroy();
    child.stderr.destroy();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readResults(out).tasks.A01).toMatchObject({ status: 'cancelled' });
  }, TEST_MS);
});

describe('a signal while a task spins on the CPU', () => {
  it.each([
    ['serial', [], 'SIGINT'],
    ['serial', [], 'SIGTERM'],
    ['threads', ['--workers', '1'], 'SIGINT'],
    ['processes', ['--workers', '1'], 'SIGTERM'],
  ] as const)('--executor %s %j, %s: stops, writes partial results and the summary, exits 130, leaves no worker', async (executor, extra, signal) => {
    const { pipeline, announce, out } = await spinning('A01');
    const run = startRun([plate, '-p', pipeline, '-o', out, '--executor', executor, ...extra, '--json']);
    await waitForFile(path.join(announce, 'A01.started'));
    // Threads write the CLI's own pid; processes their worker's.
    const worker = readPid(path.join(announce, 'A01.started'));
    expect(worker === run.pid).toBe(executor !== 'processes');
    run.signal(signal);
    expect(await run.exited, run.stderr()).toEqual({ code: 130, signal: null });
    expect(lastJsonLine(run.stdout())).toMatchObject({ tasks: 3, cancelled: 3 });
    const results = readResults(out);
    expect(results.executor).toBe(executor);
    expect(results.tasks.A01).toMatchObject({ status: 'cancelled', error: { message: `aborted: interrupted by ${signal}` } });
    expect(isGone(worker), `worker ${worker}`).toBe(true);
  }, TEST_MS);

  it('a second Ctrl-C ends plateflow at once, even while a worker thread is stuck in a system call', async () => {
    // The first Ctrl-C writes the results, then waits to close a worker thread that cannot end
    // (blocked in open(2) on a FIFO): only the second can end the run, and process.exit could not
    // (it joins worker threads).
    const n = counter++;
    const announce = path.join(dir, `announce-${n}`);
    await mkdir(announce);
    const fifo = path.join(dir, `fifo-${n}`);
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const pipeline = path.join(dir, `block-${n}.json`);
    await writeFile(pipeline, JSON.stringify({ modules: [fixture('block-on-well.mjs')], steps: [
      { name: 'block', func: [['block_on_well', { well: 'A01', announce, fifo }]], variableComponents: ['z'], backend: 'disk' },
    ] }));
    const out = path.join(dir, `out-${n}`);
    // Made beforehand so results.json can be watched for.
    await mkdir(out);
    const run = startRun([plate, '-p', pipeline, '-o', out, '--executor', 'serial', '--quiet']);
    await waitForFile(path.join(announce, 'A01.started'));
    run.signal('SIGINT');
    await waitForFile(path.join(out, 'results.json'), NEVER_MS);
    expect(readResults(out).tasks.A01).toMatchObject({ status: 'cancelled' });
    run.signal('SIGINT');
    const ended = await run.exited;
    expect(ended, run.stderr()).not.toBe('hung');
    // Ended by the signal itself, as a shell expects of a program stopped by Ctrl-C ($? = 130).
    expect(ended).toEqual({ code: null, signal: 'SIGINT' });
    expect(run.stderr()).toMatch(/second SIGINT: exiting now/);
    expect(isGone(run.pid)).toBe(true);
  }, TEST_MS);
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe.skipIf(!hasTmux)('in a real terminal (tmux)', () => {
  it('Ctrl-C typed into the terminal stops a serial run whose task spins; exit 130, summary printed', async () => {
    const { pipeline, announce, out } = await spinning('A02');
    const session = `plateflow-test-${process.pid}-${counter}`;
    const codeFile = path.join(dir, `${session}.code`);
    // The CLI's stdio is the terminal itself; the shell records its exit code in a file.
    const command = `${quote(process.execPath)} ${quote(CLI)} run ${quote(plate)} -p ${quote(pipeline)} -o ${quote(out)} --executor serial; echo $? > ${quote(codeFile)}.tmp && mv ${quote(codeFile)}.tmp ${quote(codeFile)}`;
    expect(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '50', 'bash', '-c', command]).status).toBe(0);
    try {
      // Keep the pane after the shell ends, to read what the CLI printed.
      spawnSync('tmux', ['set-option', '-t', session, 'remain-on-exit', 'on']);
      await waitForFile(path.join(announce, 'A02.started'));
      const cliPid = readPid(path.join(announce, 'A02.started'));
      expect(spawnSync('tmux', ['send-keys', '-t', session, 'C-c']).status).toBe(0);
      await waitForFile(codeFile, NEVER_MS);
      expect(readFileSync(codeFile, 'utf8').trim()).toBe('130');
      expect(isGone(cliPid)).toBe(true);
      // A01 finished before A02 started (serial keeps the given order); A03 never started.
      expect(readResults(out).tasks).toMatchObject({ A01: { status: 'ok' }, A02: { status: 'cancelled' }, A03: { status: 'cancelled' } });
      const screen = spawnSync('tmux', ['capture-pane', '-p', '-S', '-', '-t', session], { encoding: 'utf8' }).stdout;
      expect(screen).toMatch(/SIGINT: stopping/);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  }, TEST_MS);
});

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
