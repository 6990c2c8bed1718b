/**
 * The peak RSS `plateflow run` reports is the whole process tree's: with `--executor processes
 * --workers 2` and both workers holding 160 MiB at once, results.json, the summary and report.html
 * show what an independent /proc sampler (this file's own, reading other files than plateflow
 * does) saw as the tree's peak, within 5 %; and its largest-process figure is what
 * `/usr/bin/time -v` prints. The memory plateau lasts until the test has watched it for a while,
 * so neither sampler can miss it.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { synthesizePlate } from '../src/synth/plate.js';
import { formatBytes } from '../src/report/format.js';
import { CLI, REPO, tempDir, writePipeline } from './helpers.js';

const MiB = 1024 * 1024;
const HOLD_MB = 160;
const TIME = '/usr/bin/time';
const linux = existsSync('/proc/self/statm');
let dir: string;

beforeAll(async () => {
  dir = await tempDir('plateflow-peak-rss-');
  await synthesizePlate(path.join(dir, 'plate'), { wells: 2, sites: 1, channels: 1, z: 1, size: 32, seed: 2 });
});

it.skipIf(!linux)('reports the tree-wide peak of a processes run within 5 % of an independent /proc sampler', async () => {
  const announce = path.join(dir, 'announce');
  await mkdir(announce);
  const release = path.join(dir, 'release');
  const pipeline = await writePipeline(path.join(dir, 'hold.json'), {
    modules: [path.join(REPO, 'test', 'fixtures', 'steps', 'hold-memory.mjs')],
    steps: [{ name: 'hold', func: [['hold_memory', { mb: HOLD_MB, announce, release }]], backend: 'disk' }],
  });
  const out = path.join(dir, 'out');
  const args = [CLI, 'run', path.join(dir, 'plate'), '--pipeline', pipeline, '--executor', 'processes', '--workers', '2', '--out', out];
  const timed = existsSync(TIME);
  const child = timed ? spawn(TIME, ['-v', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A safety net only: the run ends as soon as the test releases the workers.
  const deadline = setTimeout(() => void writeFile(release, ''), 90_000);

  const sampler = new TreeSampler();
  let cli: number | undefined;
  let plateauSeen = 0;
  try {
    while (!existsSync(release)) {
      // Under `time`, plateflow's own tree starts at its child: the node process.
      cli ??= timed ? childrenOf(child.pid!)[0] : child.pid;
      if (cli !== undefined) sampler.sample(cli);
      const holding = readdirSync(announce).filter((f) => f.endsWith('.started')).length;
      // Both workers hold their memory: watch the plateau for 100 readings (≥ 1.5 s here,
      // several of plateflow's 200 ms samples) before letting the run finish.
      if (holding === 2 && ++plateauSeen >= 100) await writeFile(release, '');
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    while (child.exitCode === null && cli !== undefined && existsSync(`/proc/${cli}`)) {
      sampler.sample(cli);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  } finally {
    clearTimeout(deadline);
  }
  expect(await exited, stderr).toBe(0);

  const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'));
  const peak = results.peakRss;
  expect(peak).toMatchObject({ method: 'proc', intervalMs: 200 });
  expect(peak.processes).toBeGreaterThanOrEqual(3);
  // The tree, not one worker: both workers' plateaus are in it.
  expect(peak.treeBytes).toBeGreaterThan(peak.largestProcessBytes + HOLD_MB * MiB);
  expect(sampler.peak).toBeGreaterThan(2 * HOLD_MB * MiB);
  expect(Math.abs(peak.treeBytes - sampler.peak) / sampler.peak, `plateflow ${peak.treeBytes} vs sampler ${sampler.peak}`).toBeLessThanOrEqual(0.05);

  const shown = formatBytes(peak.treeBytes);
  expect(stdout).toMatch(new RegExp(`^\\s+2\\s+2\\s+0\\s+0\\s+0\\s+.*${shown.replace('.', '\\.')}$`, 'm'));
  expect(stdout).toContain(`largest single process peaked at ${formatBytes(peak.largestProcessBytes)}`);
  expect(await readFile(path.join(out, 'report.html'), 'utf8')).toMatch(new RegExp(`<span data-role="peak-rss"[^>]*>${shown.replace('.', '\\.')}</span>`));

  if (timed) {
    const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
    expect(Math.abs(peak.largestProcessBytes - kib * 1024) / (kib * 1024), `largest ${peak.largestProcessBytes} vs time -v ${kib} KiB`).toBeLessThanOrEqual(0.05);
  }
}, 120_000);

/** The tree's RSS from /proc/<pid>/stat (parents) and /proc/<pid>/statm (resident pages): not the files plateflow reads. */
class TreeSampler {
  peak = 0;
  readonly #pageSize = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));

  sample(root: number): void {
    const parents = new Map<number, number[]>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const ppid = parentOf(Number(entry));
      if (ppid !== undefined) parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    }
    let sum = 0;
    const queue = [root];
    for (let i = 0; i < queue.length; i++) {
      const pid = queue[i]!;
      try {
        sum += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * this.#pageSize;
      } catch {
        // exited since the listing
      }
      queue.push(...(parents.get(pid) ?? []));
    }
    this.peak = Math.max(this.peak, sum);
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces or ")": fields count from the last ")".
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && parentOf(Number(e)) === pid)
    .map(Number);
}
