/**
 * The peak RSS the summary and report.html show for a run, and the line that says what it is.
 *
 * The figure is the run's process-tree peak (execution/resources/peak-rss.ts) where the run
 * recorded one, never below any task's own peak: with BullMQ or Slurm the tasks run outside this
 * process's tree, and a document written before the tree was sampled has task peaks only.
 *
 * @module
 */
import type { RunPeakRss } from '../execution/resources/peak-rss.js';
import type { TaskResult } from '../execution/result.js';
import { formatBytes } from './format.js';

/** The largest peak any task or step reported in its own process. */
export function taskPeakRss(tasks: readonly TaskResult[]): number | undefined {
  return maxDefined(tasks.flatMap((t) => [t.peakRssBytes, ...(t.steps ?? []).map((s) => s.peakRssBytes)]));
}

/** The run's figure: its tree peak, or the largest task peak if that is higher or the only one. */
export function shownPeakRss(run: RunPeakRss | undefined, tasks: readonly TaskResult[]): number | undefined {
  return maxDefined([run?.treeBytes, taskPeakRss(tasks)]);
}

/** One sentence on what the figure covers, when that is not simply "this one process"; else undefined. */
export function peakRssNote(run: RunPeakRss | undefined): string | undefined {
  if (!run) return undefined;
  if (run.method === 'self') return 'peak RSS: this process and each task’s own peak (no /proc here, so worker processes were not sampled)';
  if (run.processes <= 1) return undefined;
  return (
    `peak RSS: the plateflow process and the processes under it together (up to ${run.processes} at once); ` +
    `the largest single process peaked at ${formatBytes(run.largestProcessBytes)} (what /usr/bin/time -v reports)`
  );
}

export function maxDefined(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return known.length > 0 ? Math.max(...known) : undefined;
}
