/**
 * The HTML report in a real browser (Debian's chromium driven by playwright-core): it loads from
 * file:// with no console error and no request, has one map cell per well, recolours on metric
 * change, lists the failed task, and cannot be made to run script by the data. Screenshots go to
 * test-output/ for a person to look at.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlate } from '../src/run/run-plate.js';
import type { RunDocument } from '../src/report/document.js';
import { renderReport } from '../src/report/html.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { ARRAYSCAN, REPO, STANDARD, tempDir } from './helpers.js';
import { fixtureDocument } from './report-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(REPO, 'test-output');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report-html: ${CHROMIUM} not found — skipping the browser tests (apt-get install -y chromium)`);

interface Watched {
  readonly page: Page;
  readonly problems: string[];
}

let browser: Browser;

/** Opens a page that records console errors, page errors, failed requests and any request at all besides the page itself. */
async function open(file: string): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    if (r.url() !== url) problems.push(`unexpected request: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

/** Computed background colour of each matching element (runs in the page, where the DOM globals live). */
const background = (page: Page, selector: string) =>
  page.locator(selector).evaluateAll((cells) => cells.map((c) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(c).backgroundColor));

describe.skipIf(!haveChromium)('report.html in headless Chromium', () => {
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    await mkdir(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the plate map, recolours by metric and lists the failed task', async () => {
    const file = path.join(OUT, 'report.html');
    await writeFile(file, renderReport(fixtureDocument({ rows: 8 }), { generatedAt: new Date('2026-11-23T12:00:00Z'), debug: false }));
    const { page, problems } = await open(file);
    try {
      expect(await page.locator('.cell[data-well]').count()).toBe(96);
      expect(await page.locator('.map .lbl').allTextContents()).toEqual(['', ...Array.from({ length: 12 }, (_, i) => String(i + 1)), ...'ABCDEFGH']);

      // Status colours: ok green, the failed well red.
      const byStatus = await background(page, '.cell[data-well]');
      expect(byStatus[0]).toBe('rgb(58, 157, 93)');
      expect(byStatus[12 + 6]).toBe('rgb(214, 69, 69)');
      await expect.poll(() => page.locator('[data-role="legend"]').textContent()).toContain('error (1)');

      await page.selectOption('select[data-role="metric"]', 'm:object_count');
      const byCount = await background(page, '.cell[data-well]');
      expect(byCount).not.toEqual(byStatus);
      expect(byCount[0]).not.toBe(byCount[11]); // counts rise left to right: A01 ≠ A12
      expect(await page.locator('.cell[data-well].no-value').count()).toBe(3); // B07, C03, C11 have no counts
      expect(await page.locator('[data-role="legend"]').textContent()).toMatch(/^object_count \(sum per well\): \d+\d+did not end okno value$/);
      expect(await page.locator('.cell.flag').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-well')))).toEqual(['B07', 'C03', 'C11']);
      await page.screenshot({ path: path.join(OUT, 'report-object_count.png'), fullPage: true });

      await page.selectOption('select[data-role="metric"]', 'seconds');
      expect(await background(page, '.cell[data-well]')).not.toEqual(byCount);
      await page.selectOption('select[data-role="metric"]', 'status');
      expect(await background(page, '.cell[data-well]')).toEqual(byStatus);

      await page.hover('.cell[data-well="A05"]');
      expect(await page.locator('[data-role="info"]').textContent()).toMatch(/^A05 — ok\ntasks: A05\ntask time \(s\): [\d.]+\nimages read: 12\npeak RSS \(MiB\): 185\nobject_count \(sum per well\): \d+/);

      const failed = page.locator('#problems tr[data-task="B07"]');
      expect(await failed.count()).toBe(1);
      expect(await failed.textContent()).toContain('[E_STEP_FAILED] StepFailedError: task B07');
      expect(await failed.textContent()).toContain('<img src=x onerror="window.__pwned=1"></script>'); // shown as text…
      expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined(); // …never run
      expect(await page.locator('#problems img, main script').count()).toBe(0);
      expect(await page.locator('table.steps tbody tr').count()).toBe(2);

      await page.screenshot({ path: path.join(OUT, 'report.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('loads the report.html a real run writes next to results.json', async () => {
    const dir = await tempDir();
    const plate = await synthesizePlate(path.join(dir, 'plate'), { wells: 6, sites: 2, channels: 2, z: 2, size: 64, seed: 3 });
    const run = await runPlate(plate.root, { pipeline: STANDARD, out: path.join(dir, 'out') });
    expect(run.files!.report).toBe(path.join(dir, 'out', 'report.html'));
    const results = JSON.parse(await readFile(run.files!.results, 'utf8')) as { tasks: Record<string, unknown> };
    const { page, problems } = await open(run.files!.report);
    try {
      const wells = await page.locator('.cell[data-status="ok"]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-well')));
      expect(wells).toEqual(Object.keys(results.tasks));
      const rows = await page.locator('.map .lbl').allTextContents();
      expect(await page.locator('.cell[data-well]').count()).toBe((rows.filter((l) => /^[A-Z]+$/.test(l)).length) * rows.filter((l) => /^\d+$/.test(l)).length);
      await page.selectOption('select[data-role="metric"]', 'm:object_count');
      expect(await page.locator('.cell[data-status="ok"].no-value').count()).toBe(0);
      expect(await page.locator('table.steps tbody tr').allTextContents()).toEqual([expect.stringContaining('max_project_z'), expect.stringContaining('count_nuclei')]);
      await page.screenshot({ path: path.join(OUT, 'report-run.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('renders a batch: a (well, site) plate and the real ArrayScan plate (row O of a 384-well grid)', async () => {
    const plates: RunDocument[] = [fixtureDocument({ tuple: true, root: '/data/plates/tuple-axis' })];
    if (existsSync(ARRAYSCAN)) {
      const dir = await tempDir();
      const run = await runPlate(ARRAYSCAN, { pipeline: STANDARD, out: path.join(dir, 'arrayscan-out') });
      plates.push(JSON.parse(await readFile(run.files!.results, 'utf8')) as RunDocument);
    } else {
      console.warn(`report-html: ArrayScan sample not found at ${ARRAYSCAN}; the batch report has one plate`);
    }
    const file = path.join(OUT, 'report-batch.html');
    await writeFile(file, renderReport({ title: 'batch report', plates }, { generatedAt: new Date('2026-11-23T12:00:00Z') }));
    const { page, problems } = await open(file);
    try {
      expect(await page.locator('section.plate').count()).toBe(plates.length);
      expect(await page.locator('#plate-0 .cell[data-well]').count()).toBe(96);
      expect(await page.locator('#plate-0 .cell[data-well="A01"]').getAttribute('title')).toContain('tasks: A01/1, A01/2');
      if (plates.length > 1) {
        expect(await page.locator('#plate-1 .cell[data-well]').count()).toBe(384);
        expect(await page.locator('#plate-1 .cell[data-status="ok"]').count()).toBe(24);
        await page.selectOption('#plate-1 select[data-role="metric"]', 'm:object_count');
        expect(await page.locator('#plate-1 .cell[data-status="ok"].no-value').count()).toBe(0);
      }
      await page.screenshot({ path: path.join(OUT, 'report-batch.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
