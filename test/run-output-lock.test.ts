import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runPlate } from '../dist/run/run-plate.js';
import { fixture, waitForFile } from './executor-harness.js';
import { CLI, cli, tempDir, writePipeline } from './helpers.js';

let dir: string;
let plate: string;

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '3', '--sites', '1', '--channels', '1', '--z', '2', '--size', '64']).code).toBe(0);
});

/** A pipeline whose first step holds every task until `release` exists, then projects and blurs. */
function heldPipeline(name: string, announce: string, release: string): Promise<string> {
  return writePipeline(path.join(dir, `${name}.json`), {
    modules: [fixture('wait-for-file.mjs')],
    steps: [
      { name: 'hold', func: [['wait_for_file', { well: 'A01', announce, release }]], variableComponents: ['z'], backend: 'memory' },
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
    ],
  });
}

function otherPipeline(): Promise<string> {
  return writePipeline(path.join(dir, 'other.json'), { steps: [{ name: 'blur', func: [['gaussian_blur', { sigma: 1 }]], variableComponents: ['z'], backend: 'disk' }] });
}

interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

describe('one run per output folder', () => {
  it('a second run into a busy --out exits 2 naming the holder, and changes nothing there; the first run ends with only its own outputs', async () => {
    const announce = path.join(dir, 'announce-busy');
    await mkdir(announce);
    const release = path.join(dir, 'release-busy');
    const out = path.join(dir, 'busy-out');
    const first = start(['run', plate, '-p', await heldPipeline('held', announce, release), '-o', out, '--executor', 'processes', '--workers', '2']);
    await waitForFile(path.join(announce, 'A01.started'), 60_000);

    const second = cli(['run', plate, '-p', await otherPipeline(), '-o', out]);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain('[E_OUTPUT_LOCKED]');
    expect(second.stderr).toContain(`in use by another plateflow run (pid ${first.child.pid} on ${os.hostname()}, started `);
    expect(second.stderr).toMatch(/main\.js run .*held\.json/);
    // The library call is refused the same way.
    await expect(runPlate(plate, { pipeline: await otherPipeline(), out })).rejects.toMatchObject({ code: 'E_OUTPUT_LOCKED', context: { pid: first.child.pid } });
    // A batch whose folder is busy is refused too.
    const batch = cli(['batch', plate, '-p', await otherPipeline(), '-o', out]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('[E_OUTPUT_LOCKED]');

    await writeFile(release, '');
    const ended = await first.done;
    expect(ended.code, ended.stderr).toBe(0);
    // Nothing of the refused runs' pipeline is in the folder.
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual(['2_project', 'measurements.csv', 'plateflow_metadata.json', 'report.html', 'results.json']);
    const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as { steps: { name: string }[] };
    expect(results.steps.map((s) => s.name)).toEqual(['hold', 'project']);
    // The lock is gone with the run: the next run starts.
    expect(existsSync(path.join(out, '.plateflow', 'run.lock'))).toBe(false);
    expect(cli(['run', plate, '-p', await otherPipeline(), '-o', out, '--quiet']).code).toBe(0);
  });

  it('the lock of a run killed with SIGKILL is taken over with a message naming it', async () => {
    const announce = path.join(dir, 'announce-dead');
    await mkdir(announce);
    const out = path.join(dir, 'dead-out');
    const victim = start(['run', plate, '-p', await heldPipeline('held-dead', announce, path.join(dir, 'never')), '-o', out]);
    await waitForFile(path.join(announce, 'A01.started'), 60_000);
    victim.child.kill('SIGKILL');
    await victim.done;
    expect(existsSync(path.join(out, '.plateflow', 'run.lock'))).toBe(true);

    const next = cli(['run', plate, '-p', await otherPipeline(), '-o', out]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`took over the lock of an earlier run that is gone (pid ${victim.child.pid} on ${os.hostname()}`);
  });
});
