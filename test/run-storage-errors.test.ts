/**
 * Storage that fails under a run, on real file systems: a read-only bind mount for the output
 * folder, and a small tmpfs that fills up while the run goes on. Mounting needs root (CI runs as
 * root); elsewhere these tests skip with a message.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './executor-harness.js';
import { cli, STANDARD, tempDir, writePipeline } from './helpers.js';

let dir: string;
let plate: string;
const mounted: string[] = [];

function mount(args: readonly string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
    mounted.push(args[args.length - 1]!);
    return true;
  } catch {
    return false;
  }
}

/** Root is not enough in every container: try a real mount once. */
const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(path.join(os.tmpdir(), 'plateflow-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '3', '--sites', '1', '--channels', '1', '--z', '2', '--size', '64']).code).toBe(0);
});

afterAll(() => {
  for (const target of mounted.reverse()) execFileSync('umount', ['-l', target], { stdio: 'pipe' });
});

describe.skipIf(!canMount)('storage failures', () => {
  it('a read-only output folder is reported once, before any task, naming the folder and the cause (exit 2)', async () => {
    const source = path.join(dir, 'ro-source');
    const target = path.join(dir, 'ro');
    await mkdir(source);
    await mkdir(target);
    expect(mount(['--bind', source, target])).toBe(true);
    execFileSync('mount', ['-o', 'remount,ro,bind', target]);
    const r = cli(['run', plate, '-p', STANDARD, '-o', path.join(target, 'out'), '--json']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes('"type":"task:'))).toEqual([]);
    expect(r.stderr).toContain(`[E_OUTPUT_UNWRITABLE] cannot write to output folder ${path.join(target, 'out')}: it is on a read-only file system (EROFS)`);
    expect(r.stderr).not.toContain('ENOENT');
  });

  it('a disk that fills during the run: the summary is still printed, what could not be saved is named, exit 1', async () => {
    const disk = path.join(dir, 'small');
    await mkdir(disk);
    expect(mount(['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk])).toBe(true);
    const pipeline = await writePipeline(path.join(dir, 'fill.json'), {
      modules: [fixture('fill-disk.mjs')],
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
        { name: 'fill', func: [['fill_disk', { well: 'A03', file: path.join(disk, 'filler') }]], backend: 'disk' },
      ],
    });
    const out = path.join(disk, 'out');
    // serial: tasks in order, so A01 and A02 finish before A03 fills the disk.
    const r = cli(['run', plate, '-p', pipeline, '-o', out, '--executor', 'serial']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/tasks\s+ok\s+resumed\s+failed[\s\S]*\n\s+3\s+2\s+0\s+1\s/);
    expect(r.stdout).toMatch(/PROBLEMS \(1: 1 error\)\n\s+✗ A03 — error[\s\S]*no space left on device/i);
    expect(r.stderr).toContain(`NOT SAVED in ${out}`);
    expect(r.stderr).toMatch(/results\.json, measurements\.csv and report\.html could not be written: .*(ENOSPC|no space left)/i);
    expect(existsSync(path.join(out, 'results.json'))).toBe(false);
    // The finished wells' images are in place.
    expect((await readdir(path.join(out, '2_fill'))).sort()).toEqual(['well-A01_site-1_channel-1.tif', 'well-A02_site-1_channel-1.tif']);
  });
});

if (!canMount) console.warn('run-storage-errors: skipped: this machine does not let the tests mount a tmpfs (needs root with CAP_SYS_ADMIN)');
