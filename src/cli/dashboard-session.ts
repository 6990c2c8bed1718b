import type { RunEvent } from '../execution/executor.js';
import { plateInfo, startDashboard, type DashboardAddress } from '../dashboard/index.js';
import type { PlannedPlate } from '../run/run-plate.js';
import type { InterruptHandler } from './run-options.js';

/** The dashboard of a `run` or `batch` command, tied to its Ctrl-C handling. */
export interface RunDashboard {
  /** What to open, with the token. */
  readonly url: string;
  plan(planned: PlannedPlate, plate: string): void;
  event(event: RunEvent, plate?: string): void;
  close(): Promise<void>;
}

/**
 * Starts the dashboard and prints its URL (one line on stderr, `dashboard: <url>`; a JSON event
 * with `--json`). Its Stop button is the first Ctrl-C: `interrupt.stop`.
 * @throws DashboardError `E_DASHBOARD` when the address cannot be served
 */
export async function startRunDashboard(
  address: DashboardAddress,
  o: { readonly title: string; readonly interrupt: Pick<InterruptHandler, 'signal' | 'stop'>; readonly warn: (message: string) => void; readonly json: boolean },
): Promise<RunDashboard> {
  const dashboard = await startDashboard({
    address,
    title: o.title,
    onStop: () => o.interrupt.stop("the dashboard's Stop button"),
    warn: o.warn,
  });
  // Printed whatever the progress mode (even --quiet): the user asked for this address.
  process.stderr.write(o.json ? JSON.stringify({ type: 'dashboard', url: dashboard.url }) + '\n' : `dashboard: ${dashboard.url}\n`);
  const onAbort = () => dashboard.setRunState('stopping');
  o.interrupt.signal.addEventListener('abort', onAbort, { once: true });
  return {
    url: dashboard.url,
    plan: (planned, plate) => dashboard.plan(plateInfo(planned, plate)),
    event: (event, plate) => dashboard.event(event, plate),
    async close() {
      o.interrupt.signal.removeEventListener('abort', onAbort);
      await dashboard.close();
    },
  };
}
