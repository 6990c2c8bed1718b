import path from 'node:path';
import { Command } from 'commander';
import { runPlate, type PlateRun } from '../execution/run-plate.js';
import { chooseProgressMode, createProgressReporter } from '../report/progress.js';
import { formatSummary } from '../report/summary.js';
import { exitCodeForTotals } from './exit-codes.js';
import { components } from './options.js';

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
    .action(async (plateDir: string, flags: RunFlags) => {
      // Bars on a terminal, a line per task in CI/pipes, JSON events with --json, nothing with --quiet.
      const progress = createProgressReporter({ mode: chooseProgressMode({ json: flags.json, quiet: flags.quiet }), plates: [{ name: path.basename(path.resolve(plateDir)) }] });
      const run = await runPlate(plateDir, {
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
      }).finally(() => progress.close());
      printRun(run, flags.json, flags.quiet);
      process.exitCode = exitCodeForTotals(run.totals, false);
    });
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
