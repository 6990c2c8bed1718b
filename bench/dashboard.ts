/**
 * What the live dashboard costs a run: the standard pipeline over the standard plate (bench:plate's,
 * 576 images of 512²), two worker threads, with `--dashboard` and a headless Chromium page watching
 * it, and without; interleaved rounds, medians.
 *
 *   npm run bench:dashboard [-- --rounds 5]
 *
 * Both variants run in this process the way the CLI runs them (runPlate; with the dashboard, the
 * CLI's own dashboard session fed by onPlanned/onEvent), so the page is attached and receiving
 * before the clock starts: a CLI child would be half done before a page could load. Chromium runs
 * through every round (idle in the rounds without a page), so its mere presence is no difference.
 * The clock covers runPlate, from discovery to the written results.
 *
 * Last line: `dashboard_slowdown=<median time with ÷ median time without>`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type * as Session from '../dist/cli/dashboard-session.js';
import type * as Executors from '../dist/execution/executors/index.js';
import { importDist, importPlateflow, makePlate, median, packageRoot } from './lib.js';

const CHROMIUM = '/usr/bin/chromium';
const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = (roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5) || 5;

const pf = await importPlateflow();
const { createExecutor } = await importDist<typeof Executors>('execution/executors/index.js');
const { startRunDashboard } = await importDist<typeof Session>('cli/dashboard-session.js');
const pipeline = path.join(packageRoot(), 'examples', 'standard.json');
const work = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-dashboard-'));
const { chromium } = await import('playwright-core');
const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
let outN = 0;

/** Seconds of one run of the plate, watched by a page or not. */
async function timeRun(plate: string, watched: boolean): Promise<number> {
  const executor = createExecutor('threads', { workers: 2, forwardOutput: true });
  const out = path.join(work, `out-${outN++}`);
  const controller = new AbortController();
  const dashboard = watched
    ? await startRunDashboard({ host: '127.0.0.1', port: 0 }, { title: 'bench', interrupt: { signal: controller.signal, stop: () => controller.abort() }, warn: (m) => console.warn(m), json: false })
    : undefined;
  const page = dashboard ? await browser.newPage() : undefined;
  try {
    if (page && dashboard) {
      await page.goto(dashboard.url);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    }
    await executor.start?.();
    const started = performance.now();
    const run = await pf.runPlate(plate, {
      pipeline,
      out,
      executor,
      ...(dashboard ? { onPlanned: (p) => dashboard.plan(p, 'plate'), onEvent: (e) => dashboard.event(e, 'plate') } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    if (run.totals.failed > 0) throw new Error('bench: the run had failures');
    return seconds;
  } finally {
    await page?.close();
    await dashboard?.close();
    await executor.close();
    await rm(out, { recursive: true, force: true });
  }
}

let summary = '';
try {
  const plate = path.join(work, 'plate');
  makePlate(plate);
  console.log(`standard plate (576 images, 512²): ${plate}`);
  const times = { with: [] as number[], without: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    // Interleaved, and the order swapped every round, so drift in machine load hits both alike.
    const order: ('with' | 'without')[] = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const variant of order) times[variant].push(await timeRun(plate, variant === 'with'));
    console.log(`  round ${round + 1}: without ${times.without.at(-1)!.toFixed(3)} s, with dashboard + page ${times.with.at(-1)!.toFixed(3)} s`);
  }
  const without = median(times.without);
  const withPage = median(times.with);
  console.log(`  median of ${rounds}: without ${without.toFixed(3)} s (${(576 / without).toFixed(0)} images/s), with ${withPage.toFixed(3)} s (${(576 / withPage).toFixed(0)} images/s)`);
  summary = `dashboard_slowdown=${(withPage / without).toFixed(3)}`;
} finally {
  await browser.close();
  await rm(work, { recursive: true, force: true });
}
console.log(summary);
