/**
 * What the dashboard tests share: headless Chromium, a CLI that serves a dashboard (started and
 * read until it prints its URL), plain HTTP requests to it, and the colour of a plate-map cell as
 * Chromium drew it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { CLI, waitFor } from './helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** The page's status colours (page-script.ts), as the canvas draws them. */
export const COLOR = { waiting: '#e9edf1', running: '#f7c948', ok: '#3a9d5d', error: '#d64545', cancelled: '#8d99a6', notRun: '#ffffff', absent: '#eef1f4' };

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

export interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly cookie: string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts the CLI and resolves once it printed its dashboard URL. */
export async function serve(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await waitFor('the dashboard URL', () => /dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+))/.exec(stderr) ?? (child.exitCode !== null ? Promise.reject(new Error(stderr)) : undefined), 60_000);
  return { child, url: url[1]!, port: Number(url[2]), cookie: `plateflow_${url[2]}=${url[3]}`, stderr: () => stderr, exited };
}

export function request(port: number, pathname: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface SnapshotView {
  readonly run: { readonly state: string; readonly canStop: boolean };
  readonly plates: readonly { readonly name: string; readonly tasks: readonly { readonly id: string; readonly s: string; readonly w?: number }[] }[];
  readonly workers: readonly { readonly worker: number; readonly kind: string; readonly task?: string; readonly usage?: readonly (readonly [number, number, number])[] }[];
  readonly logs: readonly string[];
}

/** The dashboard's current state, as a page that connects now gets it. */
export async function snapshot(served: Pick<Served, 'port' | 'cookie'>): Promise<SnapshotView> {
  const res = await request(served.port, '/api/snapshot', { headers: { Cookie: served.cookie } });
  if (res.status !== 200) throw new Error(`/api/snapshot: ${res.status} ${res.body.toString()}`);
  return JSON.parse(res.body.toString()) as SnapshotView;
}

/** Task id → live status, per plate name. */
export function statuses(snap: SnapshotView): Record<string, Record<string, string>> {
  return Object.fromEntries(snap.plates.map((p) => [p.name, Object.fromEntries(p.tasks.map((t) => [t.id, t.s]))]));
}

/** The colour drawn at the centre of cell `index` of plate `plate` (read back from the canvas). */
export function cellColor(page: Page, index: number, plate = 0): Promise<string> {
  return page.evaluate(`(() => {
    const c = document.querySelector('canvas[data-plate="${plate}"]');
    if (!c) return 'no map';
    const size = Number(c.dataset.size), off = Number(c.dataset.offset), cols = Number(c.dataset.columns), dpr = window.devicePixelRatio || 1;
    const x = off + (${index} % cols) * size + size / 2, y = off + Math.floor(${index} / cols) * size + size / 2;
    const d = c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return '#' + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
  })()`);
}

export async function clickCell(page: Page, index: number, plate = 0): Promise<void> {
  const canvas = page.locator(`canvas[data-plate="${plate}"]`);
  const g = JSON.parse(await page.evaluate(`JSON.stringify(document.querySelector('canvas[data-plate="${plate}"]').dataset)`)) as { size: string; offset: string; columns: string };
  const size = Number(g.size);
  const off = Number(g.offset);
  await canvas.click({ position: { x: off + (index % Number(g.columns)) * size + size / 2, y: off + Math.floor(index / Number(g.columns)) * size + size / 2 } });
}

/** Opens the dashboard and waits for its first state; `problems` collects page errors and requests that leave the dashboard. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(new URL(url).origin)) problems.push(`foreign request: ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  return { page, problems };
}
