import path from 'node:path';
import type { RunOutcome } from '../execution/coordinator.js';
import type { MeasurementRow, TaskResult } from '../execution/result.js';
import type { PlateIndex } from '../microscopes/types.js';
import { writeFileAtomic } from '../storage/atomic.js';
import type { RunDocument } from './document.js';
import { writeReport } from './html.js';

export interface RunTotals {
  readonly tasks: number;
  readonly ok: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

export function totalsOf(results: ReadonlyMap<string, TaskResult>, seconds: number): RunTotals {
  let ok = 0;
  let failed = 0;
  let cancelled = 0;
  let images = 0;
  for (const r of results.values()) {
    if (r.status === 'ok') {
      ok++;
      images += r.images;
    } else if (r.status === 'cancelled' || r.status === 'skipped') cancelled++;
    else failed++;
  }
  return { tasks: results.size, ok, failed, cancelled, images, seconds, imagesPerSecond: seconds > 0 ? images / seconds : 0 };
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
  /** What was written to results.json, for callers that aggregate runs (batch). */
  readonly document: RunDocument;
}

/** Writes `results.json`, `measurements.csv` and `report.html` into the output root, each atomically. */
export async function writeRunFiles(outcome: RunOutcome, plate: PlateIndex, extra: Record<string, unknown> = {}): Promise<RunReportFiles> {
  const root = outcome.compiled.outputRoot;
  const totals = totalsOf(outcome.results, outcome.seconds);
  const document = {
    plateflow: 1,
    plate: { root: plate.root, format: plate.format, components: plate.components, skipped: plate.skipped, ...(plate.grid ? { grid: plate.grid } : {}) },
    axis: outcome.compiled.config.axis,
    executor: outcome.executor,
    finishedAt: new Date().toISOString(),
    totals,
    steps: outcome.compiled.steps.map((s) => ({ name: s.name, id: s.id, backend: s.backend, main: s.main, hash: s.hash })),
    // The metadata entries are in plateflow_metadata.json already; per file, they would dwarf the rest.
    tasks: Object.fromEntries([...outcome.results].map(([id, { metadata: _written, ...result }]) => [id, result])),
    ...extra,
  };
  const files = { results: path.join(root, 'results.json'), measurementsCsv: path.join(root, 'measurements.csv'), report: path.join(root, 'report.html') };
  await writeFileAtomic(files.results, JSON.stringify(document, null, 2) + '\n');
  await writeFileAtomic(files.measurementsCsv, measurementsCsv([...outcome.results.values()].flatMap((r) => r.measurements)));
  // Last, and from the document just written, so the page always matches results.json.
  await writeReport(files.report, document as RunDocument);
  return { ...files, document: document as RunDocument };
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
