/**
 * The end-of-run text: one table row per plate (tasks ok / failed / not run, time, images/s, peak
 * RSS), then a PROBLEMS section with every task that did not end `ok` and its full error (code,
 * message, context and cause chain; stacks with PLATEFLOW_DEBUG). Nothing is truncated: a batch of
 * many plates must end with everything the user needs on one screen of scroll-back, not hidden
 * above a progress log (seed 003's `print_summary`).
 *
 * @module
 */
import type { RunPeakRss } from '../execution/resources/peak-rss.js';
import type { TaskResult, TaskStatus } from '../execution/result.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { maxDefined, peakRssNote, shownPeakRss } from './peak-rss.js';
import { collectProblems, debugFromEnv, formatErrorLines, type Problem, type SkippedPlateInfo } from './problems.js';
import type { RunTotals } from './results.js';

/** Results keyed by task id (as `RunOutcome.results`), as a JSON object (as `results.json`), or a list. */
export type ResultsInput = ReadonlyMap<string, TaskResult> | Readonly<Record<string, TaskResult>> | readonly TaskResult[];

export interface PlateSummary {
  /** Shown in the table's first column and before each problem; may be empty for a single plate. */
  readonly name: string;
  readonly totals: RunTotals;
  readonly results: ResultsInput;
  /** The plate's process-tree peak (`PlateRun.document.peakRss`); without it, the largest task peak. */
  readonly peakRss?: RunPeakRss | undefined;
}

export interface SummaryOptions {
  /** First line of the summary. */
  readonly title?: string;
  /** Print error stacks. @defaultValue `PLATEFLOW_DEBUG` is set (and not `0`/`false`) */
  readonly debug?: boolean;
  /**
   * Wall time of the whole batch, for the TOTAL row. Plates of a batch may run concurrently, so the
   * sum of their times over-states it. @defaultValue the sum of the plates' seconds
   */
  readonly seconds?: number;
  /** Plates a lenient batch skipped; listed under PROBLEMS with the reason. */
  readonly skippedPlates?: readonly SkippedPlateInfo[];
  /** The whole batch's process-tree peak, for the TOTAL row (or the one plate's, from `formatSummary`). */
  readonly peakRss?: RunPeakRss | undefined;
}

/** One plate's summary, kept for the single-plate callers (`run`, `demo`). */
export function formatSummary(title: string, totals: RunTotals, results: ResultsInput, options: Omit<SummaryOptions, 'title'> = {}): string {
  return formatBatchSummary([{ name: '', totals, results, peakRss: options.peakRss }], { ...options, title });
}

/** Several plates in one summary: a row each, a TOTAL row when more than one, then PROBLEMS. */
export function formatBatchSummary(plates: readonly PlateSummary[], options: SummaryOptions = {}): string {
  const debug = options.debug ?? debugFromEnv();
  const listed = plates.map((p) => ({ ...p, list: resultList(p.results) }));
  const named = listed.length > 1 || listed.some((p) => p.name !== '');
  const lines: string[] = [];
  if (options.title) lines.push(options.title);

  const header = ['tasks', 'ok', 'resumed', 'failed', 'skipped/cancelled', 'images', 'time', 'images/s', 'peak RSS'];
  const peaks = listed.map((p) => shownPeakRss(p.peakRss, p.list));
  const rows = listed.map((p, i) => totalsRow(p.totals, peaks[i]));
  if (listed.length > 1) rows.push(totalsRow(sumTotals(listed.map((p) => p.totals), options.seconds), maxDefined([options.peakRss?.treeBytes, ...peaks])));
  const labels = [...listed.map((p) => p.name), ...(listed.length > 1 ? ['TOTAL'] : [])];
  lines.push(named ? table([['plate', ...header], ...rows.map((r, i) => [labels[i]!, ...r])], { leftColumns: 1 }) : table([header, ...rows]));
  const note = peakRssNote(options.peakRss ?? (listed.length === 1 ? listed[0]!.peakRss : undefined));
  if (note) lines.push(`  ${note}`);

  const problems = collectProblems(listed.map((p) => ({ name: p.name, results: p.list })));
  const skippedPlates = options.skippedPlates ?? [];
  lines.push('');
  if (problems.length === 0 && skippedPlates.length === 0) {
    const tasks = listed.reduce((n, p) => n + p.list.length, 0);
    const resumed = listed.reduce((n, p) => n + (p.totals.resumed ?? 0), 0);
    const reused = resumed === 0 ? '' : resumed === tasks ? ' (all resumed from an earlier run: nothing to compute)' : ` (${resumed} resumed from an earlier run)`;
    lines.push(tasks === 0 ? 'No tasks ran.' : `No problems: all ${tasks} task${tasks === 1 ? '' : 's'} ok${reused}.`);
  } else {
    const counts = [statusCounts(problems), skippedPlates.length > 0 ? `${skippedPlates.length} plate${skippedPlates.length === 1 ? '' : 's'} skipped` : ''].filter(Boolean).join(', ');
    lines.push(`PROBLEMS (${problems.length + skippedPlates.length}: ${counts})`);
    for (const skipped of skippedPlates) lines.push(`  ✗ ${skipped.plate} — plate skipped`, ...skipped.reason.split('\n').map((l) => `      ${l}`));
    for (const problem of problems) lines.push(...problemLines(problem, named, debug));
  }
  return lines.join('\n');
}

/** A right-aligned text table (numbers line up); the first `leftColumns` columns are left-aligned. */
export function table(rows: readonly (readonly string[])[], options: { leftColumns?: number } = {}): string {
  if (rows.length === 0) return '';
  const left = options.leftColumns ?? 0;
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => '  ' + widths.map((w, i) => (i < left ? (r[i] ?? '').padEnd(w) : (r[i] ?? '').padStart(w))).join('  ').trimEnd())
    .join('\n');
}

function problemLines(problem: Problem, named: boolean, debug: boolean): string[] {
  const where = named && problem.plate ? `${problem.plate} ${problem.taskId}` : problem.taskId;
  return [`  ✗ ${where} — ${problem.status}`, ...formatErrorLines(problem.error, debug).map((l) => `      ${l}`)];
}

function totalsRow(t: RunTotals, peak: number | undefined): string[] {
  return [t.tasks, t.ok, t.resumed ?? 0, t.failed, t.cancelled, t.images].map(String).concat([formatDuration(t.seconds), formatRate(t.imagesPerSecond), formatBytes(peak)]);
}

function sumTotals(all: readonly RunTotals[], seconds: number | undefined): RunTotals {
  const sum = (k: 'tasks' | 'ok' | 'resumed' | 'failed' | 'cancelled' | 'images' | 'seconds') => all.reduce((n, t) => n + (t[k] ?? 0), 0);
  const wall = seconds ?? sum('seconds');
  const images = sum('images');
  return { tasks: sum('tasks'), ok: sum('ok'), resumed: sum('resumed'), failed: sum('failed'), cancelled: sum('cancelled'), images, seconds: wall, imagesPerSecond: wall > 0 ? images / wall : 0 };
}

function resultList(results: ResultsInput): TaskResult[] {
  if (results instanceof Map) return [...results.values()];
  if (Array.isArray(results)) return [...results];
  return Object.values(results as Readonly<Record<string, TaskResult>>);
}

const STATUS_ORDER: readonly TaskStatus[] = ['error', 'timeout', 'killed', 'cancelled', 'skipped', 'ok'];

function statusCounts(problems: readonly Problem[]): string {
  const counts = new Map<TaskStatus, number>();
  for (const p of problems) counts.set(p.status, (counts.get(p.status) ?? 0) + 1);
  return STATUS_ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ');
}

/** What could not be saved at the end of a run, for the person at the terminal. */
export function formatSaveFailure(failure: { readonly outputRoot: string; readonly lines: readonly string[] }): string {
  return [`NOT SAVED in ${failure.outputRoot} (the tasks above ran; their image outputs that finished are in place):`, ...failure.lines.map((l) => `  ✗ ${l}`)].join('\n') + '\n';
}
