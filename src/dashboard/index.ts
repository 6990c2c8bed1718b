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
import path from 'node:path';
import { DashboardError } from '../errors.js';
import type { RunEvent } from '../execution/executor.js';
import type { PlannedPlate } from '../run/run-plate.js';
import { urlHost, type DashboardAddress } from './address.js';
import { EventLogWriter } from './event-log.js';
import { EventHub } from './events.js';
import { AccessControl, isLoopback } from './security.js';
import { listen } from './server.js';
import { DashboardState, type PlateInfo } from './state.js';
import { ThumbnailCache } from './thumbnails.js';

export { parseDashboardAddress, type DashboardAddress } from './address.js';
export type { PlateInfo } from './state.js';

export interface DashboardOptions {
  readonly address: DashboardAddress;
  readonly title: string;
  /** What the page's Stop button does (the CLI: what Ctrl-C does); without it the page offers no Stop. */
  readonly onStop?: () => void;
  /** A live run records the CLI process's RSS and CPU; a folder served afterwards does not. @defaultValue true */
  readonly live?: boolean;
  /** Write each planned plate's event log (see event-log.ts). @defaultValue same as `live` */
  readonly eventLog?: boolean;
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
  /** Writes the end of the event logs, ends the event streams and stops the server. Idempotent. */
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
  const logs = new Map<string, EventLogWriter>();
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost(options.address.host)}:${port}/?token=${access.token}`,
    port,
    state,
    plan(info) {
      state.plan(info);
      if (options.eventLog ?? live) logs.set(info.name, new EventLogWriter(info, warn));
    },
    event(event, plate) {
      state.event(event, plate);
      (plate !== undefined ? logs.get(plate) : logs.values().next().value)?.record(event);
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
        await Promise.all([...logs.values()].map((l) => l.close()));
        hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}

/** Throughput, RSS and CPU of this process once a second. */
function processSampler(state: DashboardState): ReturnType<typeof setInterval> {
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  state.sample({ rssMiB: process.memoryUsage.rss() / 1048576, cpuPercent: 0 });
  const timer = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    const now = performance.now();
    state.sample({ rssMiB: process.memoryUsage.rss() / 1048576, cpuPercent: ((cpu.user + cpu.system) / 1000 / Math.max(1, now - lastAt)) * 100 });
    lastCpu = process.cpuUsage();
    lastAt = now;
  }, 1000);
  timer.unref();
  return timer;
}

/** What the dashboard needs of a planned plate: its tasks, where they sit, and where their images are. */
export function plateInfo(planned: PlannedPlate, name: string): PlateInfo {
  const compiled = planned.coordinator.compiled!;
  const axis = compiled.config.axis;
  return {
    name,
    root: planned.plate.root,
    format: planned.plate.format,
    axis: typeof axis === 'string' ? [axis] : [...axis],
    wells: planned.plate.components.well ?? [],
    grid: planned.plate.grid ?? null,
    outputRoot: planned.outputRoot,
    steps: compiled.steps.map((s) => s.name),
    tasks: [...planned.tasks.values()].map((plan) => ({
      id: plan.taskId,
      axis: plan.axis,
      inputs: plan.inputs.map((r) => ({
        file: path.join(plan.plate.root, r.path),
        ...(r.page !== undefined ? { page: r.page } : {}),
        label: Object.entries(r.components).filter(([k]) => k !== 'well').map(([k, v]) => `${k} ${v}`).join(', '),
      })),
    })),
  };
}
