/**
 * Number formatting shared by the summary, the progress display and the HTML report, so a time or
 * a size reads the same everywhere.
 *
 * @module
 */

/** `0.0042` → `4.2ms`, `0.42` → `0.42s`, `75` → `1m15s`, `3725` → `1h02m05s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds === 0) return '0s';
  if (seconds < 0.01) return `${(seconds * 1000).toFixed(1)}ms`;
  if (seconds < 0.1) return `${(seconds * 1000).toFixed(0)}ms`;
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h${pad2(m)}m${pad2(s)}s` : `${m}m${pad2(s)}s`;
}

/** Binary units, as `ps`/`top` show RSS: `1536` → `1.5 KiB`. Undefined (not measured) → `—`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Images per second with a precision that suits its size. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0';
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

/** Short, stable number text for tables and tooltips (`12`, `3.14`, `0.0021`, `1.2e+07`). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e6 || (abs > 0 && abs < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
