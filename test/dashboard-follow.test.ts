/**
 * `plateflow dashboard <out>` follows runs that serve no dashboard themselves: every run writes
 * its event log, and the folder source tails it. A run and a batch, each held mid-run by a task
 * that waits for a file, are opened from their folders; cells turn ok live when the task is let
 * go, without a reload. And a live `--executor processes` dashboard shows each worker's RSS and
 * CPU, read from /proc. Screenshots go to test-output/.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, COLOR, cellColor, haveChromium, launchChromium, openPage, serve, snapshot, statuses, type Served } from './dashboard-helpers.js';
import { fixture, readPid, tinyPlate, waitForFile } from './executor-harness.js';
import { CLI, REPO, tempDir, waitFor } from './helpers.js';

if (!haveChromium) console.warn(`dashboard-follow: ${CHROMIUM} not found — skipping (apt-get install -y chromium)`);

let browser: Browser;
let dir: string;

/** A pipeline that holds well A01 (of every plate) until `release` exists, then max-projects to disk. */
function holdA01(name: string, announce: string, release: string): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ modules: [fixture('wait-for-file.mjs')], steps: [
    { name: 'hold', variableComponents: ['z'], backend: 'memory', func: [['wait_for_file', { well: 'A01', announce, release }]] },
    { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
  ] }));
  return file;
}

async function folders(name: string): Promise<{ announce: string; release: string }> {
  const announce = path.join(dir, `${name}-announce`);
  await mkdir(announce);
  return { announce, release: path.join(dir, `${name}-release`) };
}

function start(args: readonly string[]): { exited: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  return { exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), kill: () => child.kill('SIGKILL') };
}

async function stopServing(served: Served | undefined): Promise<void> {
  if (!served) return;
  served.child.kill('SIGTERM');
  await served.exited;
}

describe.skipIf(!haveChromium)('following a run from its output folder', () => {
  beforeAll(async () => {
    dir = await tempDir('plateflow-dashboard-follow-');
    browser = await launchChromium();
    await mkdir(path.join(REPO, 'test-output'), { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('a run started without --dashboard: cells turn ok live in Chromium, then the run shows finished', async () => {
    const plate = path.join(dir, 'plate');
    await tinyPlate(plate, 3);
    const { announce, release } = await folders('run');
    const out = path.join(dir, 'out');
    const run = start(['run', plate, '-p', holdA01('run', announce, release), '-o', out, '--executor', 'threads', '--workers', '2', '--quiet']);
    let served: Served | undefined;
    try {
      await waitForFile(path.join(announce, 'A01.started'), 60_000);
      served = await serve(['dashboard', out, '--port', '0']);
      const { page, problems } = await openPage(browser, served.url);
      await expect.poll(() => cellColor(page, 0), { timeout: 30_000 }).toBe(COLOR.running);
      await expect.poll(() => cellColor(page, 1), { timeout: 30_000 }).toBe(COLOR.ok);
      await expect.poll(() => cellColor(page, 2), { timeout: 30_000 }).toBe(COLOR.ok);
      expect(await page.locator('#run-state').textContent()).toBe('running');

      const released = Date.now();
      writeFileSync(release, '');
      await expect.poll(() => cellColor(page, 0), { timeout: 30_000, interval: 50 }).toBe(COLOR.ok);
      console.log(`dashboard-follow: A01 turned green ${Date.now() - released} ms after its release, read from the folder`);
      expect(await run.exited).toBe(0);
      await expect.poll(() => page.locator('#run-state').textContent(), { timeout: 30_000 }).toBe('finished');
      await page.screenshot({ path: path.join(REPO, 'test-output', 'dashboard-follow.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      run.kill();
      await stopServing(served);
    }
  }, 120_000);

  it('a batch started without --dashboard: its plates appear as they start and end ok', async () => {
    const plates = [path.join(dir, 'b1'), path.join(dir, 'b2')];
    for (const p of plates) await tinyPlate(p, 2);
    const { announce, release } = await folders('batch');
    const out = path.join(dir, 'batch-out');
    const batch = start(['batch', ...plates, '-p', holdA01('batch', announce, release), '-o', out, '--workers', '2', '--quiet']);
    let served: Served | undefined;
    try {
      await waitForFile(path.join(announce, 'A01.started'), 60_000);
      served = await serve(['dashboard', out, '--port', '0']);
      const live = served;
      await waitFor('b1 A01 running and A02 ok', async () => {
        const s = statuses(await snapshot(live));
        return s.b1?.A01 === 'running' && s.b1.A02 === 'ok';
      }, 30_000);
      writeFileSync(release, '');
      expect(await batch.exited).toBe(0);
      const done = await waitFor('every task of both plates ok, and the batch finished', async () => {
        const snap = await snapshot(live);
        return snap.run.state === 'finished' && snap;
      }, 30_000);
      expect(statuses(done)).toEqual({ b1: { A01: 'ok', A02: 'ok' }, b2: { A01: 'ok', A02: 'ok' } });
    } finally {
      batch.kill();
      await stopServing(served);
    }
  }, 120_000);

  it('with --executor processes, the live dashboard shows each worker process\'s RSS and CPU from /proc', async () => {
    const plate = path.join(dir, 'plate-processes');
    await tinyPlate(plate, 2);
    const { announce, release } = await folders('processes');
    const out = path.join(dir, 'out-processes');
    const run = await serve(['run', plate, '-p', holdA01('processes', announce, release), '-o', out, '--executor', 'processes', '--workers', '2', '--dashboard', '0', '--quiet']);
    try {
      await waitForFile(path.join(announce, 'A01.started'), 60_000);
      // The fixture announces the pid of the process it runs in: the worker holding A01.
      const pid = readPid(path.join(announce, 'A01.started'));
      const worker = await waitFor('two readings of the worker holding A01', async () => {
        const w = (await snapshot(run)).workers.find((x) => x.worker === pid);
        return w?.kind === 'worker' && w.task === 'A01' && (w.usage?.length ?? 0) >= 2 && w;
      }, 30_000);
      const rss = worker.usage!.at(-1)![1];
      const procRss = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
      // The same process's RSS read a moment apart: a Node worker is tens of MiB and changes little while it waits.
      expect(rss).toBeGreaterThan(10);
      expect(rss / procRss).toBeGreaterThan(0.5);
      expect(rss / procRss).toBeLessThan(2);
      const { page, problems } = await openPage(browser, run.url);
      const row = page.locator(`#workers tr[data-worker="${pid}"]`);
      await expect.poll(() => row.locator('[data-role="rss"]').textContent(), { timeout: 20_000 }).toMatch(/^\d+ MiB$/);
      expect(await row.locator('[data-role="cpu"]').textContent()).toMatch(/^\d+ %$/);
      expect(await row.locator('canvas.spark').count()).toBe(1);
      await page.screenshot({ path: path.join(REPO, 'test-output', 'dashboard-workers.png'), fullPage: true });
      writeFileSync(release, '');
      expect(await run.exited).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 120_000);
});
