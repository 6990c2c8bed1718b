import path from 'node:path';
import type { RunOutcome } from '../execution/coordinator.js';
import type { MeasurementRow, TaskResult } from '../execution/result.js';
import type { PlateIndex } from '../microscopes/types.js';
import { writeFileAtomic } from '../storage/atomic.js';
import type { RunDocument } from './document.js';
import { writeReport } from './html.js';

export interface RunTotals {
  readonly tasks: number;
  /** Tasks computed (in whole or from a step checkpoint on) that ended ok in this run. */
  readonly ok: number;
  /** Tasks an earlier run finished, reported from their checkpoints without running (`resumed: 'task'`). */
  readonly resumed: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Input images of the tasks computed in this run (resumed tasks read none). */
  readonly images: number;
  readonly seconds: number;
  /** `images / seconds`: the speed of this run's own work. */
  readonly imagesPerSecond: number;
}

/** True for a task reported from an earlier run's checkpoints without any work. */
export function isResumedWhole(result: TaskResult): boolean {
  return result.status === 'ok' && result.resumed === 'task';
}

export function totalsOf(results: ReadonlyMap<string, TaskResult>, seconds: number): RunTotals {
  let ok = 0;
  let resumed = 0;
  let failed = 0;
  let cancelled = 0;
  let images = 0;
  for (const r of results.values()) {
    if (isResumedWhole(r)) resumed++;
    else if (r.status === 'ok') {
      ok++;
      images += r.images;
    } else if (r.status === 'cancelled' || r.status === 'skipped') cancelled++;
    else failed++;
  }
  return { tasks: results.size, ok, resumed, failed, cancelled, images, seconds, imagesPerSecond: seconds > 0 ? images / seconds : 0 };
}

/** `{image: {name: value}}` over every measurement of the run, e.g. object counts per image. */
export function measurementsByImage(results: ReadonlyMap<string, TaskResult>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of results.values()) for (const row of r.measurements) Object.assign((out[row.image] ??= {}), row.values);
  return out;
}

export interface RunReportFiles {
  readonly results: string;
  readonly measurementsCsv: string;
  readonly report: string;
}

/** The `results.json` document of a run (`extra` adds top-level fields, e.g. `executorRun`). */
export function runDocument(outcome: RunOutcome, plate: PlateIndex, extra: Record<string, unknown> = {}): RunDocument {
  return {
    plateflow: 1,
    plate: { root: plate.root, format: plate.format, components: plate.components, skipped: plate.skipped, ...(plate.grid ? { grid: plate.grid } : {}) },
    axis: outcome.compiled.config.axis,
    executor: outcome.executor,
    finishedAt: new Date().toISOString(),
    totals: totalsOf(outcome.results, outcome.seconds),
    steps: outcome.compiled.steps.map((s) => ({ name: s.name, id: s.id, backend: s.backend, main: s.main, hash: s.hash })),
    // The metadata entries are in plateflow_metadata.json already; per file, they would dwarf the rest.
    tasks: Object.fromEntries([...outcome.results].map(([id, { metadata: _written, ...result }]) => [id, result])),
    ...extra,
  } as RunDocument;
}

/**
 * Writes `results.json`, `measurements.csv` and `report.html` of a run's document into its output
 * root, each atomically.
 * @throws StorageError naming the file that could not be written
 */
export async function writeRunFiles(outcome: RunOutcome, document: RunDocument): Promise<RunReportFiles> {
  const root = outcome.compiled.outputRoot;
  const files = { results: path.join(root, 'results.json'), measurementsCsv: path.join(root, 'measurements.csv'), report: path.join(root, 'report.html') };
  await writeFileAtomic(files.results, JSON.stringify(document, null, 2) + '\n');
  await writeFileAtomic(files.measurementsCsv, measurementsCsv([...outcome.results.values()].flatMap((r) => r.measurements)));
  // Last, and from the document just written, so the page always matches results.json.
  await writeReport(files.report, document);
  return files;
}

/** Long format: one row per (image, measurement), so any function's measurements fit one schema. */
export function measurementsCsv(rows: readonly MeasurementRow[]): string {
  const components = [...new Set(rows.flatMap((r) => Object.keys(r.components)))];
  const header = ['task', 'step', 'function', 'image', ...components, 'measurement', 'value'];
  const lines = [header.join(',')];
  for (const row of rows) {
    for (const [name, value] of Object.entries(row.values)) {
      lines.push([row.task, row.step, row.fn, row.image, ...components.map((c) => row.components[c] ?? ''), name, String(value)].map(csvCell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
