/**
 * The process-tree reader and the peak-RSS sampler (execution/resources/): on a fabricated /proc,
 * the tree is exactly the root's descendants whatever the shape (property), processes that join
 * or leave between readings are followed, and overlapping watches each keep their own peak; on
 * the real /proc, children and grandchildren holding known allocations are summed, and a peak
 * that ended before the first reading still counts through the kernel's high-water mark.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PeakRssSampler } from '../src/execution/resources/peak-rss.js';
import { ProcessTreeReader } from '../src/execution/resources/process-tree.js';
import { tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const linux = existsSync('/proc/self/status');
let dir: string;

beforeAll(async () => {
  dir = await tempDir('plateflow-tree-rss-');
});

/** Writes `<proc>/<pid>/status` the way Linux lays it out (KiB), plus entries that are not processes. */
function fakeProcess(proc: string, pid: number, ppid: number, rssKiB: number, hwmKiB = rssKiB): void {
  mkdirSync(path.join(proc, String(pid)), { recursive: true });
  writeFileSync(path.join(proc, String(pid), 'status'), `Name:\tp${pid}\nState:\tS (sleeping)\nPPid:\t${ppid}\nVmHWM:\t  ${hwmKiB} kB\nVmRSS:\t  ${rssKiB} kB\nThreads:\t1\n`);
}

function fakeProc(name: string): string {
  const proc = path.join(dir, name);
  rmSync(proc, { recursive: true, force: true });
  mkdirSync(path.join(proc, 'self'), { recursive: true });
  writeFileSync(path.join(proc, 'meminfo'), 'MemTotal: 1 kB\n');
  return proc;
}

describe('ProcessTreeReader on a fabricated /proc', () => {
  it('reads exactly the root and its descendants, for any shape of process forest', () => {
    let run = 0;
    fc.assert(
      fc.property(
        // Per process: 0 for a parent outside the tree (init), else how far back its parent is
        // (1: the process just before, so small numbers make deep chains).
        fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 30 }),
        fc.nat(),
        (parentChoices, rootChoice) => {
          const proc = fakeProc(`forest-${run++}`);
          const pid = (i: number) => 1000 + i * 7;
          const parents = parentChoices.map((c, i) => (c === 0 || i === 0 ? -1 : i - 1 - ((c - 1) % i)));
          parents.forEach((p, i) => fakeProcess(proc, pid(i), p >= 0 ? pid(p) : 1, 100 + i));
          const root = rootChoice % parents.length;
          const expected = new Set([root]);
          for (let i = root + 1; i < parents.length; i++) if (expected.has(parents[i]!)) expected.add(i);

          const tree = new ProcessTreeReader(pid(root), proc).read()!;
          expect(tree[0]!.pid).toBe(pid(root));
          expect(new Set(tree.map((p) => p.pid))).toEqual(new Set([...expected].map(pid)));
          for (const p of tree) expect(p.rssBytes).toBe((100 + (p.pid - 1000) / 7) * 1024);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('follows processes that start, exit or are re-parented between readings', () => {
    const proc = fakeProc('changes');
    fakeProcess(proc, 10, 1, 1000);
    fakeProcess(proc, 11, 10, 2000);
    fakeProcess(proc, 50, 1, 9999);
    const reader = new ProcessTreeReader(10, proc);
    expect(reader.read()!.map((p) => p.pid)).toEqual([10, 11]);

    // A grandchild appears, the child grows, and an outsider (remembered, not re-read) changes.
    fakeProcess(proc, 12, 11, 3000);
    fakeProcess(proc, 11, 10, 2500, 4000);
    fakeProcess(proc, 50, 10, 9999);
    expect(reader.read()).toEqual([
      { pid: 10, ppid: 1, rssBytes: 1000 * 1024, peakRssBytes: 1000 * 1024 },
      { pid: 11, ppid: 10, rssBytes: 2500 * 1024, peakRssBytes: 4000 * 1024 },
      { pid: 12, ppid: 11, rssBytes: 3000 * 1024, peakRssBytes: 3000 * 1024 },
    ]);

    // The child exits: the grandchild goes to init and leaves the tree.
    rmSync(path.join(proc, '11'), { recursive: true });
    fakeProcess(proc, 12, 1, 3000);
    expect(reader.read()!.map((p) => p.pid)).toEqual([10]);

    // A root that is gone: no reading at all.
    rmSync(path.join(proc, '10'), { recursive: true });
    expect(reader.read()).toBeUndefined();
  });
});

describe('PeakRssSampler', () => {
  it('gives each of several overlapping watches the peak of its own span', () => {
    const proc = fakeProc('watches');
    fakeProcess(proc, 10, 1, 10 * 1024);
    // No timer reading in this test: readings happen only when a watch opens or stops.
    const sampler = new PeakRssSampler({ root: 10, procDir: proc, intervalMs: 3_600_000 });
    const a = sampler.watch();
    fakeProcess(proc, 11, 10, 40 * 1024);
    const b = sampler.watch();
    fakeProcess(proc, 11, 10, 10 * 1024, 40 * 1024);
    const pb = b.stop();
    fakeProcess(proc, 12, 10, 30 * 1024);
    const pa = a.stop();
    fakeProcess(proc, 11, 10, 1024, 40 * 1024);
    const pc = sampler.watch().stop();

    expect(pb).toEqual({ treeBytes: 50 * MiB, largestProcessBytes: 40 * MiB, method: 'proc', processes: 2, samples: 2, intervalMs: 3_600_000 });
    expect(pa).toMatchObject({ treeBytes: 50 * MiB, largestProcessBytes: 40 * MiB, processes: 3, samples: 4 });
    // 10 + 1 + 30 MiB resident now, but process 11 once held 40 MiB and a tree never holds less than one of its processes.
    expect(pc).toMatchObject({ treeBytes: 41 * MiB, largestProcessBytes: 40 * MiB, samples: 2 });
    expect(a.stop()).toBe(pa);
  });

  it('without /proc measures this process only, and says so', () => {
    const peak = new PeakRssSampler({ procDir: path.join(dir, 'no-proc-here'), ownPeakBytes: () => 5 * MiB }).watch().stop();
    expect(peak).toEqual({ treeBytes: 5 * MiB, largestProcessBytes: 5 * MiB, method: 'self', processes: 1, samples: 0 });
  });
});

describe.skipIf(!linux)('on the real /proc', () => {
  const started: ChildProcessByStdio<Writable, Readable, null>[] = [];
  afterEach(() => {
    for (const c of started.splice(0)) c.stdin.end();
  });

  /** Starts `command`, which prints one line once its memory is in place and exits when stdin closes. */
  async function holder(command: string, args: readonly string[]): Promise<{ child: ChildProcessByStdio<Writable, Readable, null>; line: string }> {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    started.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\n')) resolve(text.trim());
      });
      child.on('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready`)));
    });
    return { child, line };
  }

  it('sums a child and its grandchild holding known allocations; the largest process is one of them', async () => {
    const script = path.join(dir, 'holder.cjs');
    writeFileSync(
      script,
      `const { spawn } = require('node:child_process');
const [mb, grandMb] = process.argv.slice(2).map(Number);
const keep = Array.from({ length: mb }, () => Buffer.alloc(1 << 20, 1));
const hold = (line) => {
  process.stdout.write(line + '\\n');
  process.stdin.on('end', () => process.exit(keep.length === mb ? 0 : 1));
  process.stdin.resume();
};
if (!grandMb) hold(String(process.pid));
else {
  const g = spawn(process.execPath, [__filename, String(grandMb), '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  process.stdin.on('end', () => g.stdin.end());
  g.stdout.once('data', (d) => hold(process.pid + ' ' + d.toString().trim()));
}
`,
    );
    const { line } = await holder(process.execPath, [script, '96', '48']);
    const [child, grandchild] = line.split(' ').map(Number) as [number, number];

    const tree = new ProcessTreeReader().read()!;
    expect(tree[0]!.pid).toBe(process.pid);
    const byPid = new Map(tree.map((p) => [p.pid, p]));
    expect(byPid.get(child)).toMatchObject({ ppid: process.pid });
    expect(byPid.get(grandchild)).toMatchObject({ ppid: child });
    expect(byPid.get(child)!.rssBytes).toBeGreaterThan(96 * MiB);
    expect(byPid.get(grandchild)!.rssBytes).toBeGreaterThan(48 * MiB);

    const peak = new PeakRssSampler({ root: child, intervalMs: 20 }).watch().stop();
    const resident = [child, grandchild].reduce((n, pid) => n + statmBytes(pid), 0);
    expect(peak).toMatchObject({ method: 'proc', processes: 2, samples: 2 });
    expect(peak.treeBytes).toBeGreaterThan(144 * MiB);
    expect(Math.abs(peak.treeBytes - resident) / resident).toBeLessThan(0.05);
    expect(peak.largestProcessBytes).toBeGreaterThan(96 * MiB);
    expect(peak.largestProcessBytes).toBeLessThan(peak.treeBytes - 40 * MiB);
  });

  it('counts a peak that was over before the first reading, from the kernel high-water mark', async () => {
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    // 128 MiB written, then freed (a large bytes object is its own mapping, returned at once).
    const { child } = await holder(python, ['-c', "import os, sys\nb = b'\\x01' * (128 << 20)\ndel b\nprint(os.getpid(), flush=True)\nsys.stdin.read()"]);
    expect(statmBytes(child.pid!)).toBeLessThan(64 * MiB);
    const peak = new PeakRssSampler({ root: child.pid!, intervalMs: 20 }).watch().stop();
    expect(peak.largestProcessBytes).toBeGreaterThan(128 * MiB);
    expect(peak.treeBytes).toBe(peak.largestProcessBytes);
  });
});

/** Resident bytes from statm (in pages), not the status file the reader uses. */
function statmBytes(pid: number): number {
  pageSize ??= Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
  return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * pageSize;
}
let pageSize: number | undefined;
