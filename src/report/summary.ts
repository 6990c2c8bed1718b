import type { TaskResult } from '../execution/result.js';
import type { RunTotals } from './results.js';

/**
 * The end-of-run text: a one-line total, then a PROBLEMS section with every task that did not end
 * `ok` and its full error, so nothing is lost in the scroll-back.
 */
export function formatSummary(title: string, totals: RunTotals, results: ReadonlyMap<string, TaskResult>): string {
  const lines: string[] = [];
  lines.push(title);
  lines.push(
    table([
      ['tasks', 'ok', 'failed', 'cancelled', 'images', 'seconds', 'images/s'],
      [totals.tasks, totals.ok, totals.failed, totals.cancelled, totals.images, totals.seconds.toFixed(2), totals.imagesPerSecond.toFixed(1)].map(String),
    ]),
  );
  const problems = [...results.values()].filter((r) => r.status !== 'ok');
  if (problems.length > 0) {
    lines.push('', `PROBLEMS (${problems.length})`);
    for (const r of problems) lines.push(`  ${r.taskId}: ${r.status}${r.error ? ` — ${r.error.message}` : ''}`);
  }
  return lines.join('\n');
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '  ' + r.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n');
}
