import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { discoverPlate } from '../microscopes/discover.js';
import { runPlate, type PlateRun } from '../execution/run-plate.js';
import { formatSummary } from '../report/summary.js';
import { synthesizePlate } from '../synth/plate.js';
import { EXIT, exitCodeForTotals } from './exit-codes.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STANDARD_PIPELINE = path.join(PACKAGE_ROOT, 'examples', 'standard.json');
export const ARRAYSCAN_SAMPLE = path.resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'bbbc016-arrayscan');

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

function components(value: string): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('give at least one component name, e.g. "well" or "well,site"');
  return parts;
}

const log = (line: string) => process.stderr.write(line + '\n');

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('discover a plate: its format, components with their values, and files that did not match')
    .argument('<plate>', 'plate folder')
    .option('--format <name>', 'skip detection and use this format (ImageXpress, OperaPhenix, ArrayScan, plateflow)')
    .option('--pattern <pattern>', 'file-name pattern with named groups, e.g. "{well}_s{site}_w{channel}.tif"')
    .option('--lenient', 'report unmatched image files instead of failing', false)
    .option('--json', 'print one JSON object', false)
    .action(async (plateDir: string, opts: { format?: string; pattern?: string; lenient: boolean; json: boolean }) => {
      const plate = await discoverPlate(path.resolve(plateDir), { ...(opts.format ? { format: opts.format } : {}), ...(opts.pattern ? { pattern: opts.pattern } : {}), lenient: opts.lenient });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ root: plate.root, format: plate.format, images: plate.images.length, components: plate.components, grid: plate.grid ?? null, skipped: plate.skipped }) + '\n');
        return;
      }
      const lines = [`plate:   ${plate.root}`, `format:  ${plate.format}`, `images:  ${plate.images.length}`];
      if (plate.grid) lines.push(`grid:    ${plate.grid.rows} rows × ${plate.grid.columns} columns`);
      for (const [name, values] of Object.entries(plate.components)) {
        const shown = values.length > 12 ? `${values.slice(0, 12).join(' ')} … (${values.length})` : values.join(' ');
        lines.push(`  ${name.padEnd(10)} ${String(values.length).padStart(4)}  ${shown}`);
      }
      if (plate.skipped.length > 0) {
        lines.push(`unmatched files (${plate.skipped.length}, skipped):`);
        for (const s of plate.skipped.slice(0, 20)) lines.push(`  ${s.path}: ${s.reason}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}

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
    .option('--json', 'print one JSON object with the totals and measurements', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .action(async (plateDir: string, flags: RunFlags) => {
      const run = await runPlate(plateDir, {
        pipeline: flags.pipeline,
        lenient: flags.lenient,
        ...(flags.out ? { out: flags.out } : {}),
        ...(flags.format ? { format: flags.format } : {}),
        ...(flags.pattern ? { pattern: flags.pattern } : {}),
        ...(flags.only ? { axisFilter: flags.only } : {}),
        config: { ...(flags.axis ? { axis: flags.axis } : {}), ...(flags.variable ? { variable: flags.variable } : {}), ...(flags.groupBy ? { groupBy: flags.groupBy } : {}) },
        warn: flags.quiet ? () => {} : (m) => log(`warning: ${m}`),
        onEvent: flags.quiet || flags.json ? undefined : progressLogger(),
      });
      printRun(run, flags.json, flags.quiet);
      process.exitCode = exitCodeForTotals(run.totals, false);
    });
}

function progressLogger() {
  let done = 0;
  return (event: Parameters<NonNullable<Parameters<typeof runPlate>[1]['onEvent']>>[0]) => {
    if (event.type !== 'task:done') return;
    done++;
    const r = event.result;
    log(`[${done}] ${r.taskId} ${r.status} ${r.seconds.toFixed(2)}s${r.error ? ` — ${r.error.message}` : ''}`);
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
  process.stdout.write(`  results: ${run.files.results}\n  measurements: ${run.files.measurementsCsv}\n`);
}

export function synthCommand(): Command {
  return new Command('synth')
    .description('write a deterministic synthetic ImageXpress-style plate (uint16 TIFF)')
    .argument('<dir>', 'folder to create')
    .addOption(new Option('--wells <n>', 'number of wells (A01, A02, …)').argParser(positiveInt('--wells')).default(4))
    .addOption(new Option('--sites <n>', 'sites per well').argParser(positiveInt('--sites')).default(2))
    .addOption(new Option('--channels <n>', 'channels').argParser(positiveInt('--channels')).default(2))
    .addOption(new Option('--z <n>', 'z-planes').argParser(positiveInt('--z')).default(3))
    .addOption(new Option('--size <px>', 'image width and height').argParser(positiveInt('--size')).default(256))
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt('--seed')).default(1))
    .action(async (dir: string, o: { wells: number; sites: number; channels: number; z: number; size: number; seed: number }) => {
      const result = await synthesizePlate(dir, o);
      log(`wrote ${result.images} images (${o.wells} wells × ${o.sites} sites × ${o.channels} channels × ${o.z} z, ${o.size}²) to ${result.root}`);
    });
}

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
