import path from 'node:path';
import type { ComponentConfigInput } from '../components/config.js';
import type { KeyFilter } from '../components/filters.js';
import type { CompileOptions } from '../compiler/compile.js';
import { discoverPlate } from '../microscopes/discover.js';
import type { PlateIndex } from '../microscopes/types.js';
import { loadPipelineFile } from '../pipeline/load.js';
import type { FunctionRegistry } from '../pipeline/registry.js';
import type { PipelineDefinition } from '../pipeline/types.js';
import { preflight } from './preflight.js';
import { removeStaleTempFiles } from '../storage/stale-temp.js';
import { measurementsByImage, totalsOf, writeRunFiles, type RunReportFiles, type RunTotals } from '../report/results.js';
import { Coordinator, type RunOutcome } from '../execution/coordinator.js';
import type { ExecuteOptions, Executor } from '../execution/executor.js';
import { defaultExecutor } from '../execution/executors/create.js';

export interface RunPlateOptions extends ExecuteOptions {
  /** A pipeline file path, or a definition written in code. */
  readonly pipeline: string | PipelineDefinition;
  readonly out?: string;
  readonly lenient?: boolean;
  /** Force a format ('ImageXpress', 'OperaPhenix', 'ArrayScan', 'plateflow') instead of detecting it. */
  readonly format?: string;
  /** A user file-name pattern (named groups or `{well}` template); implies the generic format. */
  readonly pattern?: string;
  readonly config?: Partial<ComponentConfigInput>;
  readonly axisFilter?: KeyFilter | Readonly<Record<string, KeyFilter>>;
  /** Discovery filters per component, e.g. `{ channel: ['1', '2'] }`: other images are not part of the run. */
  readonly filters?: Readonly<Record<string, KeyFilter>>;
  /** Check RAM and disk before starting (see run/preflight.ts); `false` skips the check. */
  readonly preflight?: { readonly workers: number; readonly forceRun?: boolean } | false;
  /** Borrowed, never closed here. @default defaultExecutor(): threads, workers = available CPUs; closed when the run ends */
  readonly executor?: Executor;
  readonly registry?: FunctionRegistry;
  readonly gpus?: readonly number[];
  readonly checkpoints?: CompileOptions['checkpoints'];
  /** Record RSS per task and per step (peak and at end) in the results. */
  readonly memoryDebug?: boolean;
  /** TIFF files (default) or one OME-Zarr plate per disk step; see `CompileOptions.outputFormat`. */
  readonly outputFormat?: CompileOptions['outputFormat'];
  readonly warn?: (message: string) => void;
}

export interface PlateRun {
  readonly plate: PlateIndex;
  readonly outcome: RunOutcome;
  readonly totals: RunTotals;
  readonly files: RunReportFiles;
  readonly measurements: Record<string, Record<string, number>>;
}

/**
 * discover → compile → execute → store, for one plate: the library form of `plateflow run`.
 * @throws DiscoveryError, PipelineError, ConfigError before any task starts; task failures are results.
 */
export async function runPlate(plateDir: string, options: RunPlateOptions): Promise<PlateRun> {
  const executor = options.executor ?? defaultExecutor(options.warn);
  try {
    // Workers load their code while this thread discovers and compiles.
    executor.start?.().catch(() => undefined);
    return await discoverAndRun(plateDir, options, executor);
  } finally {
    if (!options.executor) await executor.close();
  }
}

async function discoverAndRun(plateDir: string, options: RunPlateOptions, executor: Executor): Promise<PlateRun> {
  const plate = await discoverPlate(path.resolve(plateDir), {
    ...(options.format ? { format: options.format } : {}),
    ...(options.pattern ? { pattern: options.pattern } : {}),
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
    ...(options.warn ? { warn: options.warn } : {}),
  });
  const tasks = await coordinator.createTasks(options.axisFilter);
  if (options.preflight) {
    const report = await preflight([...tasks.values()], options.preflight);
    for (const w of report.warnings) options.warn?.(`preflight: ${w}`);
  }
  const litter = await removeStaleTempFiles(coordinator.compiled!.outputRoot);
  if (litter.length > 0) options.warn?.(`removed ${litter.length} temp file(s) left by an interrupted run`);
  const outcome: RunOutcome = await coordinator.execute(tasks, executor, options);
  // Workers killed during this run (OOM, crash, timeout, or a retried attempt) leave temp files
  // too; only then is a second walk of the output folder worth it.
  const interrupted = [...outcome.results.values()].some((r) => r.status !== 'ok' || (r.attempts ?? 1) > 1);
  if (interrupted) await removeStaleTempFiles(coordinator.compiled!.outputRoot);
  const files = await writeRunFiles(outcome, plate);
  return { plate, outcome, totals: totalsOf(outcome.results, outcome.seconds), files, measurements: measurementsByImage(outcome.results) };
}
