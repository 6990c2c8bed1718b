import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isPlateflowError } from '../errors.js';
import { EXECUTOR_KINDS, createExecutor, type ExecutorKind } from '../execution/executors/index.js';
import { probeGpus } from '../execution/resources/gpus.js';
import { parseBytes, parseDuration } from '../execution/resources/units.js';
import { runPlate, type PlateRun } from '../execution/run-plate.js';
import { chooseProgressMode, createProgressReporter } from '../report/progress.js';
import { formatSummary } from '../report/summary.js';
import { EXIT, exitCodeForTotals } from './exit-codes.js';
import { components, positiveInt } from './options.js';

interface RunFlags {
  pipeline: string;
  axis?: string[];
  variable?: string[];
  groupBy?: string;
  out?: string;
  lenient: boolean;
  format?: string;
  pattern?: string;
  only?: string;
  json: boolean;
  quiet: boolean;
  force: boolean;
  fromStep?: string;
  toStep?: string;
  executor: ExecutorKind;
  workers?: number;
  timeout?: number;
  retries: number;
  failFast: boolean;
  workerMemory?: number;
  gpuMemoryPerTask?: number;
}

/** Wraps a library parser so commander reports its message (which names the flag and value) as bad usage. */
function flag<T>(parse: (value: string, what: string) => T, name: string) {
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

export function runCommand(): Command {
  return new Command('run')
    .description('run a pipeline over a plate, one task per value of the parallel axis')
    .argument('<plate>', 'plate folder')
    .requiredOption('-p, --pipeline <file>', 'pipeline file (.json, .yaml)')
    .option('--axis <components>', 'parallel axis: one component or a comma-separated tuple, e.g. "well" or "well,site" (default: the pipeline\'s, else well)', components)
    .option('--variable <components>', 'default variable components of a stack (default: site)', components)
    .option('--group-by <component>', 'default group-by component (default: channel)')
    .option('--only <filter>', 'run only these axis values: a list "A01,A02", a range "A01:B12", or one value')
    .option('-o, --out <dir>', 'output folder (default: <plate>_plateflow beside the plate)')
    .option('--lenient', 'skip and report unmatched image files instead of failing', false)
    .option('--format <name>', 'skip detection and use this format')
    .option('--pattern <pattern>', 'file-name pattern with named groups')
    .option('--force', 'ignore checkpoints of earlier runs and recompute everything', false)
    .option('--from-step <step>', 'recompute from this step (1-based number or name) even where checkpoints match')
    .option('--to-step <step>', 'stop after this step (1-based number or name)')
    .option('--json', 'print one JSON object with the totals and measurements (progress: one JSON event per line on stderr)', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .addOption(
      new Option('--executor <kind>', 'threads: worker threads (default, lowest overhead); processes: long-lived child processes (crash-prone or leaky native code); subprocess: a fresh process per task (hard isolation); serial: one task at a time in this process')
        .choices(EXECUTOR_KINDS)
        .default('threads'),
    )
    .option('--workers <n>', 'at most this many workers (default: available CPUs, see `plateflow resources`)', positiveInt('--workers'))
    .option('--timeout <duration>', 'per-task time limit, e.g. 30s, 500ms, 2m; a task past it is killed and ends "timeout"', flag(parseDuration, '--timeout'))
    .option('--retries <n>', 'retry tasks that end killed or timeout up to n times, with backoff', nonNegativeInt('--retries'), 0)
    .option('--fail-fast', 'after the first task that fails, start no more tasks', false)
    .option('--worker-memory <size>', 'memory per worker, e.g. 2GB: heap limit (threads) or RSS limit (processes, subprocess); a worker over it is killed', flag(parseBytes, '--worker-memory'))
    .option('--gpu-memory-per-task <size>', 'GPU memory one task needs, e.g. 4GB: sets how many tasks share a GPU (default: one per GPU)', flag(parseBytes, '--gpu-memory-per-task'))
    .action(async (plateDir: string, flags: RunFlags) => {
      // Bars on a terminal, a line per task in CI/pipes, JSON events with --json, nothing with --quiet.
      const progress = createProgressReporter({ mode: chooseProgressMode({ json: flags.json, quiet: flags.quiet }), plates: [{ name: path.basename(path.resolve(plateDir)) }] });
      const gpus = (await probeGpus()).gpus;
      const executor = createExecutor(flags.executor, {
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
        retries: flags.retries,
        ...(flags.workerMemory !== undefined ? { workerMemoryBytes: flags.workerMemory } : {}),
        ...(flags.gpuMemoryPerTask !== undefined ? { gpuMemoryPerTaskMiB: flags.gpuMemoryPerTask / (1024 * 1024) } : {}),
        gpus,
        // Raw worker output would break the JSON event lines on stderr.
        forwardOutput: !flags.json && !flags.quiet,
      });
      const interrupt = interruptHandler((m) => progress.log(m, 'warn'));
      const run = await runPlate(plateDir, {
        executor,
        signal: interrupt.signal,
        failFast: flags.failFast,
        gpus: gpus.map((g) => g.index),
        pipeline: flags.pipeline,
        lenient: flags.lenient,
        ...(flags.out ? { out: flags.out } : {}),
        ...(flags.format ? { format: flags.format } : {}),
        ...(flags.pattern ? { pattern: flags.pattern } : {}),
        ...(flags.only ? { axisFilter: flags.only } : {}),
        checkpoints: { force: flags.force, ...(flags.fromStep ? { fromStep: flags.fromStep } : {}), ...(flags.toStep ? { toStep: flags.toStep } : {}) },
        config: { ...(flags.axis ? { axis: flags.axis } : {}), ...(flags.variable ? { variable: flags.variable } : {}), ...(flags.groupBy ? { groupBy: flags.groupBy } : {}) },
        warn: (m) => progress.log(m, 'warn'),
        onEvent: progress.listener(),
      }).finally(async () => {
        interrupt.dispose();
        await executor.close({ force: interrupt.signal.aborted });
        progress.close();
      });
      printRun(run, flags.json, flags.quiet);
      process.exitCode = exitCodeForTotals(run.totals, interrupt.signal.aborted);
    });
}

/**
 * First Ctrl-C (or SIGTERM): stop dispatching, kill running workers, and let the run finish so
 * the partial results and summary are written; exit 130. Second: exit at once (child workers are
 * killed on the way out by the process-exit hook, so none is orphaned).
 */
function interruptHandler(warn: (message: string) => void) {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`plateflow: second ${signal}: exiting now without writing results\n`);
      process.exit(EXIT.interrupted);
    }
    warn(`${signal}: stopping; running tasks are being killed and partial results will be written (press Ctrl-C again to exit at once)`);
    // Aborting the run kills the workers of running tasks; the executor is closed once the run has written its files.
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function printRun(run: PlateRun, json: boolean, quiet: boolean): void {
  if (json) {
    const { tasks, ok, failed, cancelled, images, seconds, imagesPerSecond } = run.totals;
    process.stdout.write(
      JSON.stringify({ plate: run.plate.root, format: run.plate.format, out: run.outcome.compiled.outputRoot, tasks, ok, failed, cancelled, images, seconds, imagesPerSecond, results: run.files.results, measurements: run.measurements }) + '\n',
    );
    return;
  }
  if (quiet) return;
  process.stdout.write(formatSummary(`${run.plate.format} plate ${run.plate.root} → ${run.outcome.compiled.outputRoot}`, run.totals, run.outcome.results) + '\n');
  process.stdout.write(`  results: ${run.files.results}\n  measurements: ${run.files.measurementsCsv}\n  report: ${run.files.report}\n`);
}
