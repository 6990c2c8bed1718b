/**
 * The live dashboard against a real `plateflow run --dashboard 0` in real headless Chromium: cells
 * change colour as tasks end (no reload), a page opened mid-run shows what the first page shows,
 * a failed well shows its (hostile) error as text, a click shows thumbnails whose pixels are the
 * output plane after the documented contrast stretch, requests without the token, with a foreign
 * Host or Origin, or for paths outside the outputs are refused, and Stop ends the run as Ctrl-C
 * does. Then `plateflow dashboard <out>` shows a finished folder with the same map as report.html.
 * Screenshots go to test-output/.
 */
import { spawn } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTiff } from '../src/storage/tiff-read.js';
import { CHROMIUM, COLOR, cellColor, clickCell, haveChromium, launchChromium, openPage as openWith, request, serve } from './dashboard-helpers.js';
import { fixture, tinyPlate, waitForFile } from './executor-harness.js';
import { CLI, REPO, tempDir } from './helpers.js';

const OUT = path.join(REPO, 'test-output');
if (!haveChromium) console.warn(`dashboard-live: ${CHROMIUM} not found — skipping (apt-get install -y chromium)`);

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> boom & \'quotes\'';

let browser: Browser;
let dir: string;
const openPage = (url: string) => openWith(browser, url);

/** The documented stretch (src/dashboard/contrast.ts), written again independently: nearest-rank percentiles, then a clamped linear map. */
function expectedStretch(data: ArrayLike<number>, low = 0.5, high = 99.5): number[] {
  const sorted = Array.from(data).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.floor((p / 100) * (sorted.length - 1))]!;
  const lo = at(low);
  const hi = at(high);
  return Array.from(data, (v) => (hi > lo ? Math.min(255, Math.max(0, Math.round(((v - lo) * 255) / (hi - lo)))) : v > lo ? 255 : 0));
}

describe.skipIf(!haveChromium)('the live dashboard in headless Chromium', () => {
  beforeAll(async () => {
    dir = await tempDir('plateflow-dashboard-');
    browser = await launchChromium();
    await mkdir(OUT, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('follows a run live, shows a well, refuses strangers, and stops it like Ctrl-C', async () => {
    // A hostile plate folder name: it becomes the plate's name on the page.
    const plate = path.join(dir, '<b onmouseover=alert(1)>plate');
    await tinyPlate(plate, 3);
    const announce = path.join(dir, 'announce');
    const release = path.join(dir, 'release');
    await mkdir(announce);
    await mkdir(release);
    const pipeline = path.join(dir, 'hold.json');
    writeFileSync(pipeline, JSON.stringify({ modules: [fixture('wait-for-file.mjs'), fixture('fail-with-message.mjs')], steps: [
      { name: 'hold', variableComponents: ['z'], backend: 'memory', func: [
        ['wait_for_file', { well: 'A01', announce, release: path.join(release, 'A01') }],
        ['wait_for_file', { well: 'A03', announce, release: path.join(release, 'A03') }],
        ['fail_with_message', { well: 'A02', message: HOSTILE }],
      ] },
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
    ] }));
    const out = path.join(dir, 'out');
    const run = await serve(['run', plate, '-p', pipeline, '-o', out, '--executor', 'threads', '--workers', '2', '--dashboard', '0']);
    try {
      await waitForFile(path.join(announce, 'A01.started'), 60_000);
      await waitForFile(path.join(announce, 'A03.started'), 60_000);

      // Refusals, each with its status, before any page has the cookie.
      expect((await request(run.port, '/')).status).toBe(401);
      expect((await request(run.port, '/api/snapshot', { headers: { Cookie: 'plateflow_1=nope' } })).status).toBe(401);
      expect((await request(run.port, `/?token=wrong`)).status).toBe(401);
      expect((await request(run.port, '/api/snapshot', { headers: { Cookie: run.cookie, Host: `attacker.example:${run.port}` } })).status).toBe(403);
      expect((await request(run.port, '/api/snapshot', { headers: { Cookie: run.cookie } })).status).toBe(200);
      const session = JSON.parse((await request(run.port, '/api/session', { headers: { Cookie: run.cookie } })).body.toString()) as { requestToken: string };
      const origin = `http://127.0.0.1:${run.port}`;
      for (const headers of [
        { Cookie: run.cookie, Origin: 'http://attacker.example', 'X-Plateflow-Request': session.requestToken },
        { Cookie: run.cookie, Origin: origin },
        { Cookie: run.cookie, 'X-Plateflow-Request': session.requestToken },
      ] as Record<string, string>[]) expect((await request(run.port, '/api/stop', { method: 'POST', headers })).status).toBe(403);
      expect((await request(run.port, '/api/stop', { headers: { Cookie: run.cookie } })).status).toBe(405);
      // A name inside the outputs whose target is not.
      symlinkSync(pipeline, path.join(out, 'escape.tif'));
      for (const bad of ['../hold.json', '/etc/passwd', '1_hold/../../hold.json', 'escape.tif', '%2e%2e/hold.json']) {
        const res = await request(run.port, `/api/image?plate=0&path=${encodeURIComponent(bad)}`, { headers: { Cookie: run.cookie } });
        expect(res.status, `${bad}: ${res.body.toString()}`).toBe(bad.startsWith('%') ? 404 : 403);
      }

      const first = await openPage(run.url);
      const a = first.page;
      expect(a.url()).not.toContain('token='); // the token left the address bar
      await expect.poll(() => cellColor(a, 0), { timeout: 30_000 }).toBe(COLOR.running);
      await expect.poll(() => cellColor(a, 1), { timeout: 30_000 }).toBe(COLOR.error);
      expect(await cellColor(a, 2)).toBe(COLOR.running);
      expect(await cellColor(a, 3)).toBe(COLOR.absent);
      // The hostile error and plate name are text, nowhere HTML.
      await expect.poll(() => a.locator('#problems').textContent()).toContain(HOSTILE);
      expect(await a.locator('.plate h3').first().textContent()).toContain('<b onmouseover=alert(1)>plate');
      expect(await a.locator('#problems img, #problems script, .plate b').count()).toBe(0);
      expect(await a.evaluate('window.__pwned')).toBeUndefined();
      const csp = (await request(run.port, '/', { headers: { Cookie: run.cookie } })).headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');

      // A page opened mid-run shows the state the first page shows.
      const second = await openPage(run.url);
      for (const i of [0, 1, 2, 3]) expect(await cellColor(second.page, i)).toBe(await cellColor(a, i));
      await second.page.close();

      // A01 ends: its cell turns green on the open page without a reload (updates are pushed every 200 ms).
      const released = Date.now();
      writeFileSync(path.join(release, 'A01'), '');
      await expect.poll(() => cellColor(a, 0), { timeout: 30_000, interval: 50 }).toBe(COLOR.ok);
      console.log(`dashboard-live: A01 turned green ${Date.now() - released} ms after its release`);

      // Click A01: steps, and thumbnails equal to the output plane after the documented stretch.
      await clickCell(a, 0);
      await expect.poll(() => a.locator('#panel-title').textContent(), { timeout: 20_000 }).toContain('A01');
      await expect.poll(() => a.locator('#panel-body [data-role="output"] img').count(), { timeout: 20_000 }).toBe(1);
      expect(await a.locator('#panel-body table').first().textContent()).toContain('well A01');
      expect(await a.locator('#panel-body').textContent()).toContain('hold');
      const img = `document.querySelector('#panel-body [data-role="output"] img')`;
      await expect.poll(() => a.evaluate(`${img}.complete && ${img}.naturalWidth`), { timeout: 20_000 }).toBe(32);
      // Decoded by Chromium, not by us.
      const shown = JSON.parse(await a.evaluate(`(() => {
        const i = ${img}, c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
        const x = c.getContext('2d'); x.drawImage(i, 0, 0);
        const d = x.getImageData(0, 0, c.width, c.height).data;
        const grey = []; for (let k = 0; k < d.length; k += 4) grey.push(d[k]); return JSON.stringify(grey);
      })()`)) as number[];
      const plane = await readTiff(path.join(out, '2_project', 'well-A01_site-1_channel-1.tif'));
      expect(shown).toEqual(expectedStretch(plane.data));
      expect(await a.locator('#panel-body [data-role="input"] img').count()).toBe(2);
      await a.screenshot({ path: path.join(OUT, 'dashboard-live.png'), fullPage: true });

      // Stop, behind its confirmation: the same as Ctrl-C.
      await a.click('#stop');
      expect(await a.locator('#stop-confirm').isVisible()).toBe(true);
      await a.click('#stop-yes');
      expect(await run.exited).toBe(130);
      const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { tasks: Record<string, { status: string; error?: { message: string } }> };
      expect(results.tasks.A01!.status).toBe('ok');
      expect(results.tasks.A02!.status).toBe('error');
      expect(results.tasks.A03).toMatchObject({ status: 'cancelled', error: { message: "aborted: interrupted by the dashboard's Stop button" } });
      expect(first.problems).toEqual([]);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 180_000);

  it('plateflow dashboard <out> shows a finished run with the same map as report.html', async () => {
    const plate = path.join(dir, 'plate2');
    await tinyPlate(plate, 5);
    const pipeline = path.join(dir, 'fail.json');
    writeFileSync(pipeline, JSON.stringify({ modules: [fixture('fail-on-well.mjs')], steps: [
      { name: 'fail', func: [['fail_on_well', { well: 'A04' }]], variableComponents: ['z'], backend: 'memory' },
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
    ] }));
    const out = path.join(dir, 'out2');
    const ran = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--only', 'A01:A03,A04', '--quiet'], { stdio: 'ignore' });
    expect(await new Promise((resolve) => ran.on('exit', resolve))).toBe(1);
    const served = await serve(['dashboard', out, '--port', '0']);
    try {
      const report = await browser.newPage();
      await report.goto(pathToFileURL(path.join(out, 'report.html')).href);
      const statuses = JSON.parse(await report.evaluate(`JSON.stringify([...document.querySelectorAll('.cell[data-well]')].map((c) => c.dataset.status))`)) as string[];
      await report.close();
      expect(statuses.slice(0, 6)).toEqual(['ok', 'ok', 'ok', 'error', 'not-run', 'absent']);
      const { page, problems } = await openPage(served.url);
      expect(await page.locator('#run-state').textContent()).toBe('finished');
      expect(await page.locator('#stop').isVisible()).toBe(false);
      const want = (s: string) => (s === 'not-run' ? COLOR.notRun : s === 'absent' ? COLOR.absent : COLOR[s as 'ok' | 'error']);
      for (const [i, s] of statuses.entries()) expect(await cellColor(page, i), `cell ${i}`).toBe(want(s));
      const snapshot = JSON.parse((await request(served.port, '/api/snapshot', { headers: { Cookie: served.cookie } })).body.toString()) as { run: { canStop: boolean } };
      expect(snapshot.run.canStop).toBe(false);
      expect((await request(served.port, '/api/stop', { method: 'POST', headers: { Cookie: served.cookie } })).status).toBe(403);
      await page.screenshot({ path: path.join(OUT, 'dashboard-folder.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  }, 120_000);
});
