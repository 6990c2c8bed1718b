import path from 'node:path';
import { Command } from 'commander';
import { runPlate, sweepAfterInterrupt, type PlateRun } from '../run/run-plate.js';
import { formatSaveFailure, formatSummary } from '../report/summary.js';
import { exitCodeForTotals } from './exit-codes.js';
import { addExecutorOptions, addPipelineOptions, startCommandSession, type ExecutorFlags, type PipelineFlags } from './run-options.js';

interface RunFlags extends PipelineFlags, ExecutorFlags {
  out?: string;
  only?: string;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('run a pipeline over a plate, one task per value of the parallel axis')
    .argument('<plate>', 'plate folder')
    .option('-o, --out <dir>', 'output folder (default: <plate>_plateflow beside the plate)')
    .option('--only <filter>', 'run only these axis values: a list "A01,A02", a range "A01:B12", or one value; a value the plate does not have is an error');
  return addExecutorOptions(addPipelineOptions(command)).action(async (plateDir: string, flags: RunFlags) => {
    const name = path.basename(path.resolve(plateDir));
    const session = await startCommandSession(flags, [{ name }]);
    const { interrupt } = session;
    const run = await runPlate(plateDir, {
      ...session.options,
      ...(flags.out ? { out: flags.out } : {}),
      // An empty --only is an error (a filter that keeps nothing), not "no filter".
      ...(flags.only !== undefined ? { axisFilter: flags.only } : {}),
      warn: (m) => session.warn(m, name),
      onEvent: (event) => session.onEvent(event, name),
      onPlanned: (planned) => session.onPlanned(planned, name),
    }).finally(() => session.finish());
    if (interrupt.signal.aborted) await sweepAfterInterrupt([run.outcome.compiled.outputRoot]);
    printRun(run, flags.json, flags.quiet);
    process.exitCode = exitCodeForTotals(run.totals, interrupt.signal.aborted, run.saveFailure !== undefined);
  });
}

function printRun(run: PlateRun, json: boolean, quiet: boolean): void {
  if (json) {
    const { tasks, ok, resumed, failed, cancelled, images, seconds, imagesPerSecond } = run.totals;
    process.stdout.write(
      JSON.stringify({
        plate: run.plate.root,
        format: run.plate.format,
        out: run.outcome.compiled.outputRoot,
        tasks,
        ok,
        resumed,
        failed,
        cancelled,
        images,
        seconds,
        imagesPerSecond,
        ...(run.document.peakRss ? { peakRss: run.document.peakRss } : {}),
        ...(run.files ? { results: run.files.results } : {}),
        ...(run.saveFailure ? { notSaved: run.saveFailure.lines } : {}),
        measurements: run.measurements,
      }) + '\n',
    );
    return;
  }
  // A failure to save is printed even with --quiet: it is the one thing the user must not miss.
  if (!quiet) process.stdout.write(formatSummary(`${run.plate.format} plate ${run.plate.root} → ${run.outcome.compiled.outputRoot}`, run.totals, run.outcome.results, { peakRss: run.document.peakRss }) + '\n');
  if (run.files && !quiet) process.stdout.write(`  results: ${run.files.results}\n  measurements: ${run.files.measurementsCsv}\n  report: ${run.files.report}\n`);
  if (run.saveFailure) process.stderr.write(formatSaveFailure(run.saveFailure));
}
