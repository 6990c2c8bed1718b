import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runPlate } from '../run/run-plate.js';
import { formatSummary } from '../report/summary.js';
import { synthesizePlate } from '../synth/plate.js';
import { EXIT, exitCodeForTotals } from './exit-codes.js';
import { log } from './options.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STANDARD_PIPELINE = path.join(PACKAGE_ROOT, 'examples', 'standard.json');
export const ARRAYSCAN_SAMPLE = path.resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'bbbc016-arrayscan');

export function demoCommand(): Command {
  return new Command('demo')
    .description('synthesize a small plate, run the standard pipeline on it, and on the ArrayScan sample when present')
    .option('--keep', 'keep the temporary folder', false)
    .action(async (opts: { keep: boolean }) => {
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'plateflow-demo-'));
      let worst: number = EXIT.ok;
      try {
        log(`plateflow demo — working in ${tmp}`);
        const synth = await synthesizePlate(path.join(tmp, 'synthetic-plate'), { wells: 8, sites: 2, channels: 2, z: 3, size: 256, seed: 1 });
        log(`synthesized ${synth.images} images`);
        worst = Math.max(worst, await demoRun(synth.root, path.join(tmp, 'synthetic-out')));
        if (await access(ARRAYSCAN_SAMPLE).then(() => true, () => false)) {
          worst = Math.max(worst, await demoRun(ARRAYSCAN_SAMPLE, path.join(tmp, 'arrayscan-out')));
        } else {
          log(`(ArrayScan sample not found at ${ARRAYSCAN_SAMPLE}; skipped)`);
        }
      } finally {
        if (!opts.keep) await rm(tmp, { recursive: true, force: true });
        else log(`kept ${tmp}`);
      }
      process.exitCode = worst;
    });
}

async function demoRun(plateDir: string, out: string): Promise<number> {
  const run = await runPlate(plateDir, { pipeline: STANDARD_PIPELINE, out, warn: (m) => log(`warning: ${m}`) });
  process.stdout.write('\n' + formatSummary(`${run.plate.format} plate ${path.basename(run.plate.root)}: ${run.plate.images.length} images, ${run.totals.tasks} tasks`, run.totals, run.outcome.results) + '\n');
  const rows = [...run.outcome.results.values()].flatMap((r) => r.measurements.filter((m) => m.values.object_count !== undefined).map((m) => [r.taskId, m.values.object_count!] as const));
  const perTask = new Map<string, number>();
  for (const [task, n] of rows) perTask.set(task, (perTask.get(task) ?? 0) + n);
  process.stdout.write(`  objects per task (${rows.length} images counted): ${[...perTask].map(([t, n]) => `${t}:${n}`).join(' ')}\n`);
  return exitCodeForTotals(run.totals, false);
}
