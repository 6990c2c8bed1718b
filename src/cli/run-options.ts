/**
 * The flags `run` and `batch` share, defined once so both commands accept the same spellings and
 * give the same messages, and the translation of those flags into library options.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ComponentConfigInput } from '../components/config.js';
import type { CompileOptions } from '../compiler/compile.js';
import { DEFAULT_NGFF_FOR_OUTPUT, OUTPUT_FORMATS, parseOutputFormat, type OutputFormat } from '../compiler/output-format.js';
import { isPlateflowError } from '../errors.js';
import type { Executor } from '../execution/executor.js';
import { EXECUTOR_KINDS, createExecutor, type ExecutorKind } from '../execution/executors/index.js';
import { BULLMQ_EXECUTOR_HELP, addBullmqOptions, bullmqExecutorFromFlags, type BullmqFlags } from './bullmq-options.js';
import { SLURM_EXECUTOR_HELP, addSlurmOptions, slurmExecutorFromFlags, type SlurmFlags } from './slurm-options.js';
import { availableCpus } from '../execution/resources/cpus.js';
import type { GpuInfo } from '../execution/resources/gpus.js';
import { parseBytes, parseDuration } from '../execution/resources/units.js';
import { probeGpus } from '../execution/resources/gpus.js';
import { chooseProgressMode, createProgressReporter, type ProgressReporter } from '../report/progress.js';
import type { RunEvent } from '../execution/executor.js';
import { parseDashboardAddress, type DashboardAddress } from '../dashboard/index.js';
import type { PlannedPlate } from '../run/run-plate.js';
import { startRunDashboard, type RunDashboard } from './dashboard-session.js';
import { EXIT } from './exit-codes.js';
import type { ColorMode } from '../microscopes/samples.js';
import { colorOption, components, positiveInt } from './options.js';

export interface PipelineFlags {
  pipeline: string;
  axis?: string[];
  variable?: string[];
  groupBy?: string;
  lenient: boolean;
  format?: string;
  pattern?: string;
  color: ColorMode;
  force: boolean;
  verifyInputs: boolean;
  forceRun: boolean;
  /** false with --no-preflight. */
  preflight: boolean;
  memoryDebug: boolean;
  outputFormat: OutputFormat;
  python?: string;
  fromStep?: string;
  toStep?: string;
  json: boolean;
  quiet: boolean;
  dashboard?: DashboardAddress;
}

export interface ExecutorFlags extends BullmqFlags, SlurmFlags {
  executor: ExecutorKind | 'bullmq' | 'slurm';
  workers?: number;
  timeout?: number;
  retries: number;
  failFast: boolean;
  workerMemory?: number;
  gpuMemoryPerTask?: number;
}

/** Wraps a library parser so commander reports its message (which names the flag and value) as bad usage. */
export function flag<T>(parse: (value: string, what: string) => T, name: string) {
  return (value: string): T => {
    try {
      return parse(value, name);
    } catch (err) {
      if (isPlateflowError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be an integer ≥ 0, got "${value}"`);
    return n;
  };
}

export function addPipelineOptions(command: Command): Command {
  return command
    .requiredOption('-p, --pipeline <file>', 'pipeline file (.json, .yaml)')
    .option('--axis <components>', 'parallel axis: one component or a comma-separated tuple, e.g. "well" or "well,site" (default: the pipeline\'s, else well)', components)
    .option('--variable <components>', 'default variable components of a stack (default: site)', components)
    .option('--group-by <component>', 'default group-by component (default: channel)')
    .option('--lenient', 'skip and report what does not match (unmatched image files; in a batch, missing plates or channels) instead of failing', false)
    .option('--format <name>', 'skip detection and use this format')
    .option('--pattern <pattern>', 'file-name pattern with named groups')
    .addOption(colorOption())
    .option('--force', 'ignore checkpoints of earlier runs and recompute everything', false)
    .option('--verify-inputs', 'on resume, recognise changed inputs by a hash of their bytes (reads every input) instead of size, modification time and inode', false)
    .option('--from-step <step>', 'recompute from this step (1-based number or name) even where checkpoints match')
    .option('--to-step <step>', 'stop after this step (1-based number or name)')
    .option('--force-run', 'start even when the preflight estimate says RAM or disk will not suffice', false)
    .option('--no-preflight', 'skip the RAM and disk estimate before the first task (it stats every input file: seconds at a million files)')
    .option('--memory-debug', 'record RSS per task and per step (peak and at end) in results.json', false)
    .addOption(
      new Option('--output-format <format>', `how disk steps store images: tiff files, or one OME-Zarr plate per step (<out>/<step>.zarr; ome-zarr = ome-zarr@${DEFAULT_NGFF_FOR_OUTPUT}; needs --axis well and/or site); one of ${OUTPUT_FORMATS.join(', ')}`)
        .argParser(flag(parseOutputFormat, '--output-format'))
        .default('tiff'),
    )
    .option('--python <path>', 'Python interpreter for py: steps, e.g. a venv\'s bin/python (default: $PLATEFLOW_PYTHON, else python3 on PATH); it needs numpy')
    .option('--dashboard <[host:]port>', 'serve a live dashboard of the run on this port (0: any free port; host 127.0.0.1 unless given) and print its URL', flag(parseDashboardAddress, '--dashboard'))
    .option('--json', 'print one JSON object at the end (progress: one JSON event per line on stderr)', false)
    .option('-q, --quiet', 'print nothing but errors', false);
}

export function addExecutorOptions(command: Command): Command {
  const withExecutors = command
    .addOption(
      new Option('--executor <kind>', `threads: worker threads (default, lowest overhead); processes: long-lived child processes (crash-prone or leaky native code); subprocess: a fresh process per task (hard isolation); serial: one task at a time, in order, in one worker thread; ${BULLMQ_EXECUTOR_HELP}; ${SLURM_EXECUTOR_HELP}`)
        .choices([...EXECUTOR_KINDS, 'bullmq', 'slurm'])
        .default('threads'),
    )
    .option('--workers <n>', 'at most this many workers (default: available CPUs, see `plateflow resources`)', positiveInt('--workers'))
    .option('--timeout <duration>', 'per-task time limit, e.g. 30s, 500ms, 2m; a task past it is killed and ends "timeout"', flag(parseDuration, '--timeout'))
    .option('--retries <n>', 'retry tasks that end killed or timeout up to n times, with backoff', nonNegativeInt('--retries'), 0)
    .option('--fail-fast', 'after the first task that fails, start no more tasks', false)
    .option('--worker-memory <size>', 'memory per worker, e.g. 2GB: heap limit (threads) or RSS limit (processes, subprocess); a worker over it is killed', flag(parseBytes, '--worker-memory'))
    .option('--gpu-memory-per-task <size>', 'GPU memory one task needs, e.g. 4GB: sets how many tasks share a GPU (default: one per GPU)', flag(parseBytes, '--gpu-memory-per-task'));
  return addSlurmOptions(addBullmqOptions(withExecutors));
}

export function executorFromFlags(flags: ExecutorFlags & Pick<PipelineFlags, 'json' | 'quiet'>, gpus: readonly GpuInfo[]): Executor {
  if (flags.executor === 'bullmq') return bullmqExecutorFromFlags(flags);
  if (flags.executor === 'slurm') return slurmExecutorFromFlags(flags);
  return createExecutor(flags.executor, {
    ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    retries: flags.retries,
    ...(flags.workerMemory !== undefined ? { workerMemoryBytes: flags.workerMemory } : {}),
    ...(flags.gpuMemoryPerTask !== undefined ? { gpuMemoryPerTaskMiB: flags.gpuMemoryPerTask / (1024 * 1024) } : {}),
    gpus,
    // Raw worker output would break the JSON event lines on stderr.
    forwardOutput: !flags.json && !flags.quiet,
  });
}

/** Workers the preflight should plan for: what the executor will use at most (it never exceeds the CPUs). */
export function plannedWorkers(flags: ExecutorFlags): number {
  // bullmq, slurm: tasks run on other machines; only one task's worth is planned for here.
  return flags.executor === 'serial' || flags.executor === 'bullmq' || flags.executor === 'slurm' ? 1 : Math.min(flags.workers ?? Infinity, availableCpus());
}

export function compileFlags(flags: PipelineFlags): {
  config: Partial<ComponentConfigInput>;
  checkpoints: NonNullable<CompileOptions['checkpoints']>;
  memoryDebug: boolean;
  outputFormat: OutputFormat;
  python?: string;
} {
  return {
    memoryDebug: flags.memoryDebug,
    outputFormat: flags.outputFormat,
    ...(flags.python !== undefined ? { python: flags.python } : {}),
    config: { ...(flags.axis ? { axis: flags.axis } : {}), ...(flags.variable ? { variable: flags.variable } : {}), ...(flags.groupBy ? { groupBy: flags.groupBy } : {}) },
    checkpoints: { force: flags.force, verifyInputs: flags.verifyInputs, ...(flags.fromStep ? { fromStep: flags.fromStep } : {}), ...(flags.toStep ? { toStep: flags.toStep } : {}) },
  };
}

/**
 * First Ctrl-C (or SIGTERM): stop dispatching, kill running workers, and let the run finish so
 * the partial results and summary are written; exit 130. Second: end at once, by that signal.
 * Tasks never compute on this thread (see createExecutor), so it is free to hear both.
 */
export interface InterruptHandler {
  readonly signal: AbortSignal;
  /** What the first Ctrl-C does, asked for another way (the dashboard's Stop button); `by` says by what. */
  stop(by: string): void;
  dispose(): void;
}

export function interruptHandler(warn: (message: string) => void): InterruptHandler {
  const controller = new AbortController();
  const stop = (by: string) => {
    if (controller.signal.aborted) return;
    warn(`${by}: stopping; running tasks are being killed and partial results will be written (press Ctrl-C again to exit at once)`);
    // Aborting the run kills the workers of running tasks; the executor is closed once the run has written its files.
    controller.abort(new Error(`interrupted by ${by}`));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`plateflow: second ${signal}: exiting now without waiting for workers or writing results\n`);
      dieBy(signal);
    }
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    stop,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Ends the process now. `process.exit` is not enough: it joins every worker thread, and one blocked
 * in a system call (a read from a hung network file system) never returns. So the exit hooks run
 * by hand (they SIGKILL child workers, so none is orphaned), then the signal is raised again with
 * its default action, which ends the process whatever its threads do. Dying by the signal also
 * tells a calling shell script that the user interrupted it (bash stops the script; `$?` is 130).
 */
function dieBy(signal: NodeJS.Signals): never {
  process.exitCode = EXIT.interrupted;
  process.emit('exit', EXIT.interrupted);
  // With no listener left, the signal's default action (terminate) applies again.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  // Only reached if the signal is blocked or ignored here.
  process.exit(EXIT.interrupted);
}

/** What `run` and `batch` set up the same way: progress, GPUs, the executor, Ctrl-C, and the library options from the flags. */
export interface CommandSession {
  readonly progress: ProgressReporter;
  readonly interrupt: InterruptHandler;
  readonly options: {
    readonly executor: Executor;
    readonly signal: AbortSignal;
    readonly failFast: boolean;
    readonly gpus: readonly number[];
    readonly pipeline: string;
    readonly lenient: boolean;
    readonly format?: string;
    readonly pattern?: string;
    readonly color: ColorMode;
    readonly preflight: { readonly workers: number; readonly forceRun: boolean; readonly workerMemoryBytes?: number } | false;
  } & ReturnType<typeof compileFlags>;
  /** Run events and warnings go to the progress display and, with `--dashboard`, to the dashboard. */
  onEvent(event: RunEvent, plate?: string): void;
  warn(message: string, plate?: string): void;
  onPlanned(planned: PlannedPlate, plate: string): void;
  /** Stops listening for Ctrl-C, closes the executor (forcefully after an interrupt), the dashboard and the progress display. */
  finish(): Promise<void>;
}

export async function startCommandSession(flags: PipelineFlags & ExecutorFlags, plates?: readonly { readonly name: string }[]): Promise<CommandSession> {
  // Bars on a terminal, a line per task in CI/pipes, JSON events with --json, nothing with --quiet.
  const progress = createProgressReporter({ mode: chooseProgressMode({ json: flags.json, quiet: flags.quiet }), ...(plates ? { plates } : {}) });
  const gpus = (await probeGpus()).gpus;
  const executor = executorFromFlags(flags, gpus);
  const interrupt = interruptHandler((m) => progress.log(m, 'warn'));
  let dashboard: RunDashboard | undefined;
  try {
    dashboard = flags.dashboard ? await startRunDashboard(flags.dashboard, { title: plates?.[0]?.name ?? 'batch', interrupt, warn: (m) => progress.log(m, 'warn'), json: flags.json }) : undefined;
  } catch (err) {
    interrupt.dispose();
    await executor.close();
    throw err;
  }
  return {
    progress,
    interrupt,
    options: {
      executor,
      signal: interrupt.signal,
      failFast: flags.failFast,
      gpus: gpus.map((g) => g.index),
      pipeline: flags.pipeline,
      lenient: flags.lenient,
      ...(flags.format ? { format: flags.format } : {}),
      ...(flags.pattern ? { pattern: flags.pattern } : {}),
      color: flags.color,
      ...compileFlags(flags),
      preflight: flags.preflight ? { workers: plannedWorkers(flags), forceRun: flags.forceRun, ...(flags.workerMemory !== undefined ? { workerMemoryBytes: flags.workerMemory } : {}) } : false,
    },
    onEvent(event, plate) {
      progress.event(event, plate);
      dashboard?.event(event, plate);
    },
    warn(message, plate) {
      progress.log(message, 'warn', plate);
      dashboard?.event({ type: 'log', level: 'warn', message }, plate);
    },
    onPlanned(planned, plate) {
      dashboard?.plan(planned, plate);
    },
    async finish() {
      interrupt.dispose();
      await executor.close({ force: interrupt.signal.aborted });
      await dashboard?.close();
      progress.close();
    },
  };
}
