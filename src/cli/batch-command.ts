import path from 'node:path';
import { Command } from 'commander';
import { runBatch } from '../run/run-batch.js';
import { sweepAfterInterrupt } from '../run/run-plate.js';
import { formatBatchSummary, formatSaveFailure } from '../report/summary.js';
import { EXIT } from './exit-codes.js';
import { components } from './options.js';
import { addExecutorOptions, addPipelineOptions, startCommandSession, type ExecutorFlags, type PipelineFlags } from './run-options.js';

interface BatchFlags extends PipelineFlags, ExecutorFlags {
  out: string;
  channels?: string[];
}

export function batchCommand(): Command {
  const command = new Command('batch')
    .description('run one pipeline over many plates with one worker budget; re-running the same command resumes')
    .argument('<plates...>', 'plate folders, or globs such as "runs/plate_*"')
    .requiredOption('-o, --out <dir>', 'batch output folder: one sub-folder per plate, plus results.json and report.html')
    .option('--channels <list>', 'channels every plate must have (strict) or that are run where present (--lenient), e.g. "1,2"', components);
  return addExecutorOptions(addPipelineOptions(command)).action(async (plates: string[], flags: BatchFlags) => {
    const started = performance.now();
    const session = await startCommandSession(flags);
    const { interrupt } = session;
    const batch = await runBatch(plates, {
      ...session.options,
      out: flags.out,
      ...(flags.channels ? { channels: flags.channels } : {}),
      warn: (m, plate) => session.warn(m, plate),
      onEvent: (event, plate) => session.onEvent(event, plate),
      onPlanned: (planned, plate) => session.onPlanned(planned, plate),
    }).finally(() => session.finish());
    if (interrupt.signal.aborted) await sweepAfterInterrupt([flags.out]);
    const seconds = (performance.now() - started) / 1000;
    const failed = batch.runs.some((r) => r.run.totals.failed > 0 || r.run.totals.cancelled > 0) || batch.saveFailure !== undefined;
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          out: path.resolve(flags.out),
          ...(batch.files ? { results: batch.files.results, report: batch.files.report } : {}),
          ...(batch.saveFailure ? { notSaved: batch.saveFailure.lines } : {}),
          seconds,
          plates: batch.runs.map((r) => ({ name: r.name, plate: r.run.plate.root, format: r.run.plate.format, ...r.run.totals })),
          skipped: batch.skipped,
        }) + '\n',
      );
    } else if (!flags.quiet) {
      const summary = formatBatchSummary(
        batch.runs.map((r) => ({ name: r.name, totals: r.run.totals, results: r.run.outcome.results, peakRss: r.run.document.peakRss })),
        { title: `plateflow batch: ${batch.runs.length} plate(s) → ${path.resolve(flags.out)}`, seconds, skippedPlates: batch.skipped, peakRss: batch.peakRss },
      );
      process.stdout.write(`${summary}\n${batch.files ? `  results: ${batch.files.results}\n  report: ${batch.files.report}\n` : ''}`);
    }
    if (batch.saveFailure) process.stderr.write(formatSaveFailure(batch.saveFailure));
    process.exitCode = interrupt.signal.aborted ? EXIT.interrupted : failed ? EXIT.tasksFailed : EXIT.ok;
  });
}
