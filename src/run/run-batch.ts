import path from 'node:path';
import { EventLogWriter } from '../dashboard/event-log.js';
import { DiscoveryError, isPlateflowError } from '../errors.js';
import type { Executor, ExecutorDescription, RunEvent } from '../execution/executor.js';
import { defaultExecutor } from '../execution/executors/create.js';
import { watchPeakRss, type RunPeakRss } from '../execution/resources/peak-rss.js';
import { runPlate, type PlannedPlate, type PlateRun, type RunPlateOptions } from './run-plate.js';
import { discoverPlate } from '../microscopes/discover.js';
import type { RunDocument } from '../report/document.js';
import { writeReport } from '../report/html.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import { lockOutputFolder } from './output-lock.js';
import { sweepOutputFolder } from './temp-sweep.js';
import { expandPlateArguments, plateOutputNames } from './plates.js';
import { describeSaveFailure, type SaveFailure } from './save-failure.js';

export interface BatchOptions extends Omit<RunPlateOptions, 'out' | 'filters' | 'onEvent' | 'warn' | 'onPlanned'> {
  /** Batch output folder: one sub-folder per plate, plus the combined results.json and report.html. */
  readonly out: string;
  /** Channels every plate must have (strict) or that are run where present (lenient). */
  readonly channels?: readonly string[];
  /** Called when a plate starts (plates overlap: the next starts while the last tasks of this one run). */
  readonly onPlate?: (plate: string, index: number, total: number) => void;
  /** Run events of every plate, with the plate's output name (events of two plates interleave). */
  readonly onEvent?: (event: RunEvent, plate: string) => void;
  /** Each plate once planned (see `RunPlateOptions.onPlanned`), with the plate's output name. */
  readonly onPlanned?: (planned: PlannedPlate, plate: string) => void;
  /** Warnings, with the plate's output name when they concern one plate. */
  readonly warn?: (message: string, plate?: string) => void;
}

export interface SkippedPlate {
  readonly plate: string;
  readonly reason: string;
}

export interface BatchRun {
  readonly runs: readonly { readonly name: string; readonly run: PlateRun }[];
  readonly skipped: readonly SkippedPlate[];
  /** The combined results.json and report.html; undefined when they could not be written (see `saveFailure`). */
  readonly files: { readonly results: string; readonly report: string } | undefined;
  /** What could not be saved, the batch's own files and each plate's (see `PlateRun.saveFailure`). */
  readonly saveFailure?: SaveFailure;
  /** Peak memory of this process's tree over the whole batch (each plate's is in its document). */
  readonly peakRss: RunPeakRss;
}

/**
 * One pipeline over many plates with one worker budget: the same executor (and its warm pool)
 * serves every plate. Every plate is discovered before any work starts, so in strict mode all
 * missing plates and (plate, channel) pairs are reported at once, not one per attempt.
 *
 * Plates overlap: the next plate is compiled and its tasks queued as soon as every task of the
 * previous one has started, so the workers that the previous plate's last tasks leave idle take
 * the next plate's first ones. The executor runs the earlier plate's tasks first.
 *
 * The batch folder is held for the batch's lifetime, and each plate's folder for its run (see
 * run/output-lock.ts).
 *
 * @throws DiscoveryError E_PLATE_NOT_FOUND listing every missing plate / channel pair (strict), or
 *   when no plate at all can be run (lenient too: a batch that does nothing is not a success)
 * @throws OutputLockedError E_OUTPUT_LOCKED when another run holds the batch folder
 */
export async function runBatch(plateArgs: readonly string[], options: BatchOptions): Promise<BatchRun> {
  // `batch 'data/*' --out data/out` must not take its own output (or a plate's under it) for a plate.
  const out = path.resolve(options.out);
  const plates = (await expandPlateArguments(plateArgs)).filter((plate) => {
    const inside = plate === out || plate.startsWith(out + path.sep);
    if (inside) options.warn?.(`not a plate: ${plate} is this batch's output folder`);
    return !inside;
  });
  const lenient = options.lenient ?? false;
  const missing: SkippedPlate[] = [];
  const runnable: { plate: string; channels?: string[] }[] = [];
  for (const plate of plates) {
    try {
      const index = await discoverPlate(plate, {
        lenient,
        ...(options.format ? { format: options.format } : {}),
        ...(options.pattern ? { pattern: options.pattern } : {}),
        ...(options.color ? { color: options.color } : {}),
      });
      const present = options.channels?.filter((c) => index.components.channel?.includes(c));
      for (const c of options.channels ?? []) if (!present!.includes(c)) missing.push({ plate, reason: `channel ${c} not found (channels: ${(index.components.channel ?? []).join(', ') || 'none'})` });
      if (present === undefined) runnable.push({ plate });
      else if (present.length > 0) runnable.push({ plate, channels: present });
    } catch (err) {
      if (!isPlateflowError(err)) throw err;
      missing.push({ plate, reason: err.message });
    }
  }
  const listing = missing.map((m) => `  ${m.plate}: ${m.reason}`).join('\n');
  if (missing.length > 0 && !lenient) {
    throw new DiscoveryError('E_PLATE_NOT_FOUND', `${missing.length} requested plate/channel pair(s) cannot be run:\n${listing}\n(use --lenient to skip them and run the rest)`);
  }
  if (runnable.length === 0) {
    throw new DiscoveryError('E_PLATE_NOT_FOUND', `none of the ${plates.length} plate(s) can be run, so the batch would do nothing:\n${listing}`);
  }
  for (const m of missing) options.warn?.(`skipped ${m.plate}: ${m.reason}`);

  const lock = await lockOutputFolder(options.out, { ...(options.warn ? { warn: options.warn } : {}) });
  // The batch's own files; each plate's folder is swept by its run.
  for (const folder of [options.out, path.join(options.out, CHECKPOINT_DIR)]) await sweepOutputFolder(folder, { recursive: false, warn: options.warn });
  const executor: Executor = options.executor ?? defaultExecutor(options.warn);
  const names = plateOutputNames(runnable.map((r) => r.plate));
  // Which plate folders `plateflow dashboard <out>` should follow, as they start (each plate's own log says the rest).
  const events = EventLogWriter.forBatch(options.out, (m) => options.warn?.(m));
  let runs: { name: string; run: PlateRun }[] = [];
  const memory = watchPeakRss();
  try {
    try {
      const onPlanned = (planned: PlannedPlate, name: string): void => {
        events.plate(name);
        options.onPlanned?.(planned, name);
      };
      const outcome = await runPlates(runnable, names, executor, { ...options, onPlanned });
      runs = outcome.runs;
      missing.push(...outcome.notStarted);
    } finally {
      if (!options.executor) await executor.close();
    }
    const peakRss = memory.stop();
    const saved = await writeBatchFiles(options.out, runs, missing, executor.describe?.(), peakRss).then(
      (files) => ({ files, failure: undefined }),
      (err: unknown) => ({ files: undefined, failure: err }),
    );
    const saveFailure = batchSaveFailure(path.resolve(options.out), runs, saved.failure);
    return { runs, skipped: missing, files: saved.files, peakRss, ...(saveFailure ? { saveFailure } : {}) };
  } finally {
    memory.stop();
    await events.close();
    lock.release();
  }
}

/**
 * Runs the plates, each starting once every task of the one before has started. A plate that
 * cannot run at all (its preflight refuses, its folder is busy) stops the batch from starting
 * more: the plates under way finish, then its error is thrown. After Ctrl-C no plate starts;
 * those are returned as not started.
 */
async function runPlates(
  plates: readonly { readonly plate: string; readonly channels?: readonly string[] }[],
  names: readonly string[],
  executor: Executor,
  options: BatchOptions,
): Promise<{ runs: { name: string; run: PlateRun }[]; notStarted: SkippedPlate[] }> {
  const runs: ({ name: string; run: PlateRun } | undefined)[] = [];
  const notStarted: SkippedPlate[] = [];
  const underWay = new Set<Promise<void>>();
  let failure: { readonly error: unknown } | undefined;
  for (const [i, { plate, channels }] of plates.entries()) {
    if (failure) break;
    if (options.signal?.aborted) {
      notStarted.push({ plate, reason: 'not started: the batch was interrupted' });
      continue;
    }
    const name = names[i]!;
    options.onPlate?.(plate, i, plates.length);
    let queued!: () => void;
    const allQueued = new Promise<void>((resolve) => (queued = resolve));
    const running: Promise<void> = runPlate(plate, {
      ...options,
      executor,
      out: path.join(options.out, name),
      ...(channels ? { filters: { channel: channels } } : {}),
      warn: (message) => options.warn?.(message, name),
      onPlanned: (planned) => options.onPlanned?.(planned, name),
      onEvent: (event) => {
        if (event.type === 'run:all-started') queued();
        options.onEvent?.(event, name);
      },
    })
      .then(
        (run) => void (runs[i] = { name, run }),
        (error: unknown) => void (failure ??= { error }),
      )
      .finally(() => {
        queued();
        underWay.delete(running);
      });
    underWay.add(running);
    await allQueued;
  }
  await Promise.all(underWay);
  if (failure) throw failure.error;
  return { runs: runs.filter((r): r is { name: string; run: PlateRun } => r !== undefined), notStarted };
}

async function writeBatchFiles(
  out: string,
  runs: readonly { name: string; run: PlateRun }[],
  skipped: readonly SkippedPlate[],
  executorRun: ExecutorDescription | undefined,
  peakRss: RunPeakRss,
) {
  const plates: RunDocument[] = runs.map((r) => r.run.document);
  const files = { results: path.join(out, 'results.json'), report: path.join(out, 'report.html') };
  // executorRun at the top too: `plateflow status <batch folder>` finds the run there.
  const document = { plateflow: 1, batch: true, finishedAt: new Date().toISOString(), ...(executorRun ? { executorRun } : {}), peakRss, plates: runs.map((r, i) => ({ name: r.name, ...plates[i]! })), skipped };
  await writeFileAtomic(files.results, JSON.stringify(document, null, 2) + '\n');
  await writeReport(files.report, { title: `plateflow batch — ${runs.length} plate(s)${skipped.length ? `, ${skipped.length} skipped` : ''}`, plates, skippedPlates: skipped });
  return files;
}

/** The batch's own save failure and every plate's, in one list. */
function batchSaveFailure(out: string, runs: readonly { name: string; run: PlateRun }[], own: unknown): SaveFailure | undefined {
  const parts = [describeSaveFailure(out, undefined, own), ...runs.map((r) => r.run.saveFailure)].filter((f): f is SaveFailure => f !== undefined);
  if (parts.length === 0) return undefined;
  return {
    outputRoot: out,
    lines: parts.flatMap((f) => f.lines.map((l) => (f.outputRoot === out ? l : `${path.relative(out, f.outputRoot) || f.outputRoot}: ${l}`))),
    errors: parts.flatMap((f) => f.errors),
  };
}
