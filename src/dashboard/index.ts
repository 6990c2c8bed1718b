/**
 * The live dashboard: an HTTP server on 127.0.0.1 (by default) that shows a run on a plate map
 * as it goes, fed only by the run's plans and events (never by executor internals).
 *
 * ```ts
 * const dashboard = await startDashboard({ address: { host: '127.0.0.1', port: 0 }, title: 'plate1', onStop: () => controller.abort() });
 * console.log(dashboard.url);                      // http://127.0.0.1:41234/?token=…
 * await runPlate(dir, { …, onPlanned: (p) => dashboard.plan(plateInfo(p, 'plate1')), onEvent: (e) => dashboard.event(e, 'plate1') });
 * await dashboard.close();
 * ```
 *
 * @module
 */
import type { Server } from 'node:http';
import { DashboardError } from '../errors.js';
import type { RunEvent } from '../execution/executor.js';
import { urlHost, type DashboardAddress } from './address.js';
import { EventHub } from './events.js';
import { AccessControl, isLoopback } from './security.js';
import { listen } from './server.js';
import { DashboardState, type PlateInfo } from './state.js';
import { ThumbnailCache } from './thumbnails.js';
import { WorkerUsageReader } from './worker-usage.js';

export { parseDashboardAddress, type DashboardAddress } from './address.js';
export type { PlateInfo } from './state.js';
export { plateInfo } from './plate-info.js';

export interface DashboardOptions {
  readonly address: DashboardAddress;
  readonly title: string;
  /** What the page's Stop button does (the CLI: what Ctrl-C does); without it the page offers no Stop. */
  readonly onStop?: () => void;
  /** A live run records the CLI process's RSS and CPU; a folder served afterwards does not. @defaultValue true */
  readonly live?: boolean;
  readonly warn?: (message: string) => void;
  /** Milliseconds between two pushed updates. @defaultValue 200 */
  readonly intervalMs?: number;
}

export interface Dashboard {
  /** With the token: what to open. */
  readonly url: string;
  readonly port: number;
  readonly state: DashboardState;
  plan(info: PlateInfo): void;
  event(event: RunEvent, plate?: string): void;
  /** The run is stopping (Ctrl-C or Stop) or has ended; pushed to the pages at once. */
  setRunState(state: 'stopping' | 'finished'): void;
  /** Ends the event streams and stops the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the server and resolves once it listens.
 * @throws DashboardError `E_DASHBOARD` when the address cannot be bound (in use, not an address of this machine)
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const live = options.live ?? true;
  const warn = options.warn ?? (() => undefined);
  const state = new DashboardState({ title: options.title, canStop: options.onStop !== undefined });
  const hub = new EventHub(state, { ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}) });
  const access = new AccessControl(options.address.host);
  const onStop = options.onStop;
  let server: Server;
  try {
    server = await listen({
      ...options.address,
      state,
      hub,
      access,
      thumbnails: new ThumbnailCache(),
      ...(onStop ? { onStop: () => (state.setRunState('stopping'), onStop()) } : {}),
    });
  } catch (err) {
    hub.close();
    const code = (err as { code?: string }).code;
    throw new DashboardError(`cannot serve the dashboard on ${urlHost(options.address.host)}:${options.address.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : err instanceof Error ? err.message : String(err)}`, { host: options.address.host, port: options.address.port }, { cause: err });
  }
  if (!isLoopback(options.address.host)) warn(`dashboard: listening on ${options.address.host}, not only this machine: anyone who can reach it and has the URL with its token can see the run and stop it`);
  const port = (server.address() as { port: number }).port;
  const sampler = live ? processSampler(state) : undefined;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost(options.address.host)}:${port}/?token=${access.token}`,
    port,
    state,
    plan(info) {
      state.plan(info);
    },
    event(event, plate) {
      state.event(event, plate);
    },
    setRunState(s) {
      state.setRunState(s);
      hub.flush();
    },
    close() {
      closed ??= (async () => {
        if (sampler) clearInterval(sampler);
        state.sample();
        state.setRunState('finished');
        hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}

/** Throughput, RSS and CPU of this process once a second, and of the worker processes known by pid. */
function processSampler(state: DashboardState): ReturnType<typeof setInterval> {
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const workers = new WorkerUsageReader();
  let reading = false;
  state.sample({ rssMiB: process.memoryUsage.rss() / 1048576, cpuPercent: 0 });
  const timer = setInterval(() => {
    const pids = state.workerPids();
    if (pids.length > 0 && !reading) {
      reading = true;
      void workers
        .read(pids)
        .then((readings) => state.workerUsage(pids, readings))
        .finally(() => (reading = false));
    }
    const cpu = process.cpuUsage(lastCpu);
    const now = performance.now();
    state.sample({ rssMiB: process.memoryUsage.rss() / 1048576, cpuPercent: ((cpu.user + cpu.system) / 1000 / Math.max(1, now - lastAt)) * 100 });
    lastCpu = process.cpuUsage();
    lastAt = now;
  }, 1000);
  timer.unref();
  return timer;
}
