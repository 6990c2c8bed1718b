import { DashboardError } from '../errors.js';

export interface DashboardAddress {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
}

export const DEFAULT_HOST = '127.0.0.1';

/**
 * `PORT`, `HOST:PORT` or `[IPv6]:PORT` (as `--dashboard` takes it); the host defaults to 127.0.0.1.
 * @throws DashboardError `E_DASHBOARD` naming the value and the expected form
 */
export function parseDashboardAddress(text: string, flag = '--dashboard'): DashboardAddress {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new DashboardError(`${flag}: expected [HOST:]PORT with PORT 0-65535 (0 = any free port), got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2] ?? DEFAULT_HOST, port };
}

/** The host as it goes in a URL (`[::1]` for IPv6). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
