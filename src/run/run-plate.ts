import path from 'node:path';
import type { ComponentConfigInput } from '../components/config.js';
import type { KeyFilter } from '../components/filters.js';
import type { CompileOptions } from '../compiler/compile.js';
import type { TaskPlan } from '../compiler/plan.js';
import { discoverPlate } from '../microscopes/discover.js';
import type { PlateIndex } from '../microscopes/types.js';
import type { ColorMode } from '../microscopes/samples.js';
import { loadPipelineFile } from '../pipeline/load.js';
import type { FunctionRegistry } from '../pipeline/registry.js';
import type { PipelineDefinition } from '../pipeline/types.js';
import { EventLogWriter } from '../dashboard/event-log.js';
import { plateInfo } from '../dashboard/plate-info.js';
import { Coordinator, type RunOutcome } from '../execution/coordinator.js';
import type { ExecuteOptions, Executor, RunEvent } from '../execution/executor.js';
import { defaultExecutor } from '../execution/executors/create.js';
import { watchPeakRss, type PeakRssWatch } from '../execution/resources/peak-rss.js';
import type { RunDocument } from '../report/document.js';
import { measurementsByImage, runDocument, totalsOf, writeRunFiles, type RunReportFiles, type RunTotals } from '../report/results.js';
import { lockOutputFolder } from './output-lock.js';
import { preflight, type PreflightOptions } from './preflight.js';
import { findFinishedTasks } from './resume-state.js';
import { describeSaveFailure, type SaveFailure } from './save-failure.js';
import { sweepOutputFolder } from './temp-sweep.js';

export interface RunPlateOptions extends ExecuteOptions {
  /** A pipeline file path, or a definition written in code. */
  readonly pipeline: string | PipelineDefinition;
  readonly out?: string;
  readonly lenient?: boolean;
  /** Force a format ('ImageXpress', 'OperaPhenix', 'ArrayScan', 'plateflow') instead of detecting it. */
  readonly format?: string;
  /** A user file-name pattern (named groups or `{well}` template); implies the generic format. */
  readonly pattern?: string;
  /** Colour TIFFs: a channel per sample, or one luminance plane per file (see `DiscoverOptions.color`). @defaultValue 'channels' */
  readonly color?: ColorMode;
  readonly config?: Partial<ComponentConfigInput>;
  readonly axisFilter?: KeyFilter | Readonly<Record<string, KeyFilter>>;
  /** Discovery filters per component, e.g. `{ channel: ['1', '2'] }`: other images are not part of the run. */
  readonly filters?: Readonly<Record<string, KeyFilter>>;
  /** Check RAM and disk before starting (see run/preflight.ts); `false` skips the check. */
  readonly preflight?: Omit<PreflightOptions, 'diskStepsToRun'> | false;
  /** Borrowed, never closed here. @default defaultExecutor(): threads, workers = available CPUs; closed when the run ends */
  readonly executor?: Executor;
  readonly registry?: FunctionRegistry;
  readonly gpus?: readonly number[];
  /** `verifyInputs`: recognise changed inputs by their bytes instead of size, mtime and inode (see storage/input-identity.ts). */
  readonly checkpoints?: CompileOptions['checkpoints'];
  /** Record RSS per task and per step (peak and at end) in the results. */
  readonly memoryDebug?: boolean;
  /** TIFF files (default) or one OME-Zarr plate per disk step; see `CompileOptions.outputFormat`. */
  readonly outputFormat?: CompileOptions['outputFormat'];
  /** The Python interpreter for `py:` steps; see `CompileOptions.python`. */
  readonly python?: string;
  readonly warn?: (message: string) => void;
  /**
   * Called once the plate is discovered, its tasks compiled and its output folder locked, before
   * any task is dispatched: what a live view needs to lay out the plate (e.g. the dashboard).
   */
  readonly onPlanned?: (planned: PlannedPlate) => void;
}

export interface PlateRun {
  readonly plate: PlateIndex;
  readonly outcome: RunOutcome;
  readonly totals: RunTotals;
  /** What results.json holds (or would hold, if it could not be written). */
  readonly document: RunDocument;
  /** Where results.json, measurements.csv and report.html were written; undefined when they could not be (see `saveFailure`). */
  readonly files: RunReportFiles | undefined;
  /** The tasks ran, but their results (or the metadata of their outputs) could not all be saved: a full or read-only disk. */
  readonly saveFailure?: SaveFailure;
  readonly measurements: Record<string, Record<string, number>>;
}

/**
 * discover → compile → execute → store, for one plate: the library form of `plateflow run`.
 *
 * The output folder is held for the whole run (run/output-lock.ts): a second run into it fails
 * at once. Tasks an earlier run finished with the same steps and unchanged inputs are reported
 * as resumed without being dispatched.
 *
 * @throws DiscoveryError, PipelineError, ConfigError before any task starts; OutputLockedError
 *   E_OUTPUT_LOCKED when another run holds the output folder; PlateflowError E_OUTPUT_UNWRITABLE
 *   when the output folder cannot be written; PreflightError E_RESOURCE. Task failures are results,
 *   and so is a failure to save them (`saveFailure`).
 */
export async function runPlate(plateDir: string, options: RunPlateOptions): Promise<PlateRun> {
  const executor = options.executor ?? defaultExecutor(options.warn);
  // From the start: discovering a large plate can be the run's memory peak.
  const memory = watchPeakRss();
  let run: PlateRun;
  try {
    // Workers load their code while this thread discovers and compiles.
    executor.start?.().catch(() => undefined);
    run = await discoverAndRun(plateDir, options, executor, memory);
  } finally {
    memory.stop();
    if (!options.executor) await executor.close({ force: options.signal?.aborted === true });
  }
  // Interrupted: once our own workers are gone, what they were writing is litter (a borrowed
  // executor's owner does this after closing it, see `sweepAfterInterrupt`).
  if (!options.executor && options.signal?.aborted) await sweepAfterInterrupt([run.outcome.compiled.outputRoot]);
  return run;
}

/**
 * After Ctrl-C, once every worker of the executor is gone: removes the temp files this process
 * (any of its threads) left in these output folders, so an interrupted run leaves no litter.
 */
export async function sweepAfterInterrupt(roots: readonly string[]): Promise<void> {
  for (const root of roots) await sweepOutputFolder(root, { includeOwn: true });
}

/** A plate discovered and its pipeline compiled into one frozen plan per task, before anything runs. */
export interface PlannedPlate {
  readonly plate: PlateIndex;
  readonly coordinator: Coordinator;
  readonly tasks: ReadonlyMap<string, TaskPlan>;
  readonly outputRoot: string;
}

/**
 * Discovery and compilation of `runPlate`, without running: what `plateflow slurm-script` shows.
 * @throws DiscoveryError, PipelineError as runPlate does
 */
export async function planPlate(plateDir: string, options: Omit<RunPlateOptions, 'executor'>): Promise<PlannedPlate> {
  const plate = await discoverPlate(path.resolve(plateDir), {
    ...(options.format ? { format: options.format } : {}),
    ...(options.pattern ? { pattern: options.pattern } : {}),
    ...(options.color ? { color: options.color } : {}),
    lenient: options.lenient ?? false,
    ...(options.filters ? { filters: options.filters } : {}),
  });
  for (const skipped of plate.skipped) options.warn?.(`skipped ${skipped.path}: ${skipped.reason}`);
  const { definition, baseDir } =
    typeof options.pipeline === 'string'
      ? await loadPipelineFile(options.pipeline).then((l) => ({ definition: l.definition, baseDir: path.dirname(l.file) }))
      : { definition: options.pipeline, baseDir: process.cwd() };
  const coordinator = new Coordinator({
    plate,
    pipeline: definition,
    baseDir,
    ...(options.out !== undefined ? { out: options.out } : {}),
    ...(options.config ? { config: options.config } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.gpus ? { gpus: options.gpus } : {}),
    ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
    ...(options.memoryDebug ? { memoryDebug: true } : {}),
    ...(options.outputFormat ? { outputFormat: options.outputFormat } : {}),
    ...(options.python ? { python: options.python } : {}),
    ...(options.warn ? { warn: options.warn } : {}),
  });
  const tasks = await coordinator.createTasks(options.axisFilter);
  return { plate, coordinator, tasks, outputRoot: coordinator.compiled!.outputRoot };
}

async function discoverAndRun(plateDir: string, options: RunPlateOptions, executor: Executor, memory: PeakRssWatch): Promise<PlateRun> {
  const planned = await planPlate(plateDir, executor.planningGpus ? { ...options, gpus: executor.planningGpus } : options);
  const { plate, coordinator, outputRoot } = planned;
  let tasks = planned.tasks;
  const lock = await lockOutputFolder(outputRoot, { ...(options.warn ? { warn: options.warn } : {}) });
  // Every run, dashboard or not: `plateflow dashboard <out>` follows any run from this log.
  const events = EventLogWriter.forPlate(plateInfo(planned, path.basename(plate.root), { inputs: false }), (m) => options.warn?.(m));
  const onEvent = (event: RunEvent): void => {
    events.record(event);
    options.onEvent?.(event);
  };
  try {
    options.onPlanned?.(planned);
    const resume = await findFinishedTasks([...tasks.values()]);
    let toRun: TaskPlan[] = [...tasks.values()].filter((plan) => !resume.finished.has(plan.taskId));
    let taskPeakBytes: number | undefined;
    if (options.preflight && toRun.length > 0) {
      const report = await preflight(toRun, { ...options.preflight, diskStepsToRun: resume.diskStepsToRun });
      for (const w of report.warnings) options.warn?.(`preflight: ${w}`);
      for (const n of report.notes) onEvent({ type: 'log', level: 'info', message: `preflight: ${n}` });
      taskPeakBytes = report.estimate.taskPeakBytes;
      // Each worker may keep one task's working set for the next (see execution/buffer-pool.ts).
      tasks = withBufferPool(tasks, report.estimate.bufferPoolBytes);
      toRun = toRun.map((plan) => tasks.get(plan.taskId)!);
    }
    // Even with nothing to run: a run killed while writing results.json left its temp file.
    await sweepOutputFolder(outputRoot, { warn: options.warn });
    // Python interpreters and their imports load in every worker now, not in each worker's first
    // task; an executor that requests memory per task (Slurm) learns how much the estimate says.
    await executor.prepare?.(toRun, taskPeakBytes !== undefined ? { taskPeakBytes } : {}).catch(() => undefined);
    const outcome: RunOutcome = await coordinator.execute(tasks, executor, { ...options, onEvent, finished: resume.finished });
    // Workers killed during this run (OOM, crash, timeout, a retried attempt, Ctrl-C) leave temp
    // files; only then is a second walk of the output folder worth it.
    const interrupted = options.signal?.aborted === true || [...outcome.results.values()].some((r) => r.status !== 'ok' || (r.attempts ?? 1) > 1);
    if (interrupted) await sweepOutputFolder(outputRoot, { warn: options.warn });
    const totals = totalsOf(outcome.results, outcome.seconds);
    const measurements = measurementsByImage(outcome.results);
    // Stopped before results.json is written, so the document holds it; the workers are still up.
    const document = runDocument(outcome, plate, { ...executorRecord(executor), peakRss: memory.stop() });
    const saved = await writeRunFiles(outcome, document).then(
      (files) => ({ files, failure: undefined }),
      (err: unknown) => ({ files: undefined, failure: err }),
    );
    const saveFailure = describeSaveFailure(outputRoot, outcome.metadataError, saved.failure);
    return { plate, outcome, totals, document, files: saved.files, measurements, ...(saveFailure ? { saveFailure } : {}) };
  } finally {
    await events.close();
    lock.release();
  }
}

/** The plans with the buffer-pool budget each worker gets (plans are frozen: new ones, sharing their parts). */
function withBufferPool(tasks: ReadonlyMap<string, TaskPlan>, bufferPoolBytes: number): Map<string, TaskPlan> {
  const budgeted = new Map<string, TaskPlan>();
  for (const [id, plan] of tasks) budgeted.set(id, Object.freeze({ ...plan, resources: Object.freeze({ ...plan.resources, bufferPoolBytes }) }));
  return budgeted;
}

/** What results.json records of the engine, so a distributed run can be found from its folder. */
function executorRecord(executor: Executor): Record<string, unknown> {
  const description = executor.describe?.();
  return description ? { executorRun: description } : {};
}
