/**
 * Durations and sizes as people write them on a command line. Shared by the CLI and the library
 * so `--timeout 30s` and `{ timeoutMs: 30_000 }` mean the same thing.
 */
import { ConfigError } from '../../errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * `"30s"`, `"500ms"`, `"2m"`, `"1.5h"`; a bare number is seconds.
 * @throws ConfigError E_CONFIG_INVALID naming `what` and the bad value
 */
export function parseDuration(value: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/i.exec(value);
  const ms = Math.round(m ? Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]! : NaN);
  // Under half a millisecond rounds to 0, which would mean "no limit" to a timer.
  if (!(ms >= 1) || !Number.isFinite(ms)) throw new ConfigError(`${what} must be a positive duration such as 30s, 500ms or 2m (at least 1ms), got "${value}"`);
  return ms;
}

/** Largest unit first: a duration is shown in the largest unit it reaches. */
const DURATION_DISPLAY: readonly (readonly [string, number])[] = [['h', 3_600_000], ['min', 60_000], ['s', 1000], ['ms', 1]];

/**
 * A duration in ms the way a person gave it: `1 ms`, `250 ms`, `1.5 s`, `30 s`, `2 min`, `1.5 h`
 * (the largest unit it reaches, at most two decimals, no trailing zeros).
 */
export function formatDuration(ms: number): string {
  const [unit, size] = DURATION_DISPLAY.find(([, size]) => Math.abs(ms) >= size) ?? DURATION_DISPLAY[DURATION_DISPLAY.length - 1]!;
  return `${Number((ms / size).toFixed(2))} ${unit}`;
}

/**
 * `"2GB"`, `"512M"`, `"1.5GiB"`, `"1048576"` (bytes). K/M/G/T are 1024-based, with or without
 * "B" or "iB", as in Slurm's `--mem` and Docker's `--memory`, because that is what people mean
 * when they size a worker.
 * @throws ConfigError E_CONFIG_INVALID naming `what` and the bad value
 */
export function parseBytes(value: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(value);
  const power = m?.[2] ? 'kmgt'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const bytes = m ? Number(m[1]) * 1024 ** power : NaN;
  if (!(bytes >= 1024 * 1024) || !Number.isFinite(bytes)) throw new ConfigError(`${what} must be a size of at least 1MB such as 2GB or 512MB, got "${value}"`);
  return Math.round(bytes);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) || v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}
