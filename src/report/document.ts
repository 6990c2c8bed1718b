/**
 * The shape of `results.json` (written by `writeRunFiles`) as the HTML report reads it. Fields a
 * later version adds are optional here, so a report can be rendered from an older document.
 *
 * @module
 */
import type { ExecutorDescription } from '../execution/executor.js';
import type { RunPeakRss } from '../execution/resources/peak-rss.js';
import type { TaskResult } from '../execution/result.js';
import type { PlateGrid } from '../microscopes/types.js';
import type { RunTotals } from './results.js';

export interface RunDocument {
  readonly plateflow?: number;
  /** Display name of the plate; defaults to the last segment of `plate.root`. */
  readonly name?: string;
  readonly plate: {
    readonly root: string;
    readonly format: string;
    readonly components: Readonly<Record<string, readonly string[]>>;
    readonly grid?: PlateGrid;
    readonly skipped?: readonly { readonly path: string; readonly reason: string }[];
  };
  readonly axis: string | readonly string[];
  readonly executor?: string;
  /** The engine's own run, for engines that have one (a BullMQ run id, …): how to find the run again. */
  readonly executorRun?: ExecutorDescription;
  readonly finishedAt?: string;
  readonly totals: RunTotals;
  /**
   * Peak memory of the run's process tree (this process and every process under it), sampled from
   * /proc; see `RunPeakRss`. Absent in documents from before it was recorded.
   */
  readonly peakRss?: RunPeakRss;
  readonly steps?: readonly { readonly name: string; readonly id?: string; readonly backend?: string }[];
  /** Task id → result, in axis order. */
  readonly tasks: Readonly<Record<string, TaskResult>>;
}

/** The last non-empty segment of a POSIX or Windows path. */
export function plateName(doc: RunDocument): string {
  if (doc.name) return doc.name;
  const parts = doc.plate.root.split(/[\\/]+/).filter(Boolean);
  return parts.at(-1) ?? doc.plate.root;
}

export function axisOf(doc: RunDocument): readonly string[] {
  return typeof doc.axis === 'string' ? [doc.axis] : doc.axis;
}
