import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseDashboardAddress, type DashboardAddress } from '../dashboard/index.js';
import { parseDuration } from '../execution/resources/units.js';
import { loadPipelineFile } from '../pipeline/load.js';
import type { PipelineDefinition } from '../pipeline/types.js';
import { runPlate, type RunPlateOptions } from '../run/run-plate.js';
import { formatSummary } from '../report/summary.js';
import { synthesizePlate } from '../synth/plate.js';
import { startRunDashboard, type RunDashboard } from './dashboard-session.js';
import { EXIT, exitCodeForTotals } from './exit-codes.js';
import { log } from './options.js';
import { flag, interruptHandler } from './run-options.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STANDARD_PIPELINE = path.join(PACKAGE_ROOT, 'examples', 'standard.json');
export const ARRAYSCAN_SAMPLE = path.resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'bbbc016-arrayscan');
const PAUSE_MODULE = path.join(PACKAGE_ROOT, 'examples', 'demo-pause.mjs');

/** With a dashboard and no --task-delay: slow enough to see cells change, short enough to wait for. */
const DASHBOARD_TASK_DELAY_MS = 1000;

interface DemoFlags {
  keep: boolean;
  dashboard?: DashboardAddress;
  taskDelay?: number;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('synthesize a small plate, run the standard pipeline on it, and on the ArrayScan sample when present')
    .option('--keep', 'keep the working folder (plates, outputs, report.html) and print where it is', false)
    .option('--dashboard <[host:]port>', 'serve the live dashboard of the demo on this port (0: any free port) and keep serving it, with the outputs, until Ctrl-C', flag(parseDashboardAddress, '--dashboard'))
    .option('--task-delay <duration>', `hold each task this long before it computes (a first pipeline step, examples/demo-pause.mjs, that sleeps), so the dashboard has something to watch; default 0, or ${DASHBOARD_TASK_DELAY_MS / 1000}s with --dashboard`, flag(parseDuration, '--task-delay'))
    .action(async (flags: DemoFlags) => {
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'plateflow-demo-'));
      const interrupt = interruptHandler((m) => log(`warning: ${m}`));
      let dashboard: RunDashboard | undefined;
      let worst: number = EXIT.ok;
      const reports: string[] = [];
      try {
        dashboard = flags.dashboard ? await startRunDashboard(flags.dashboard, { title: 'plateflow demo', interrupt, warn: (m) => log(`warning: ${m}`), json: false }) : undefined;
        const pipeline = withTaskDelay((await loadPipelineFile(STANDARD_PIPELINE)).definition, flags.taskDelay ?? (dashboard ? DASHBOARD_TASK_DELAY_MS : 0));
        log(`plateflow demo — working in ${tmp}`);
        const synth = await synthesizePlate(path.join(tmp, 'synthetic-plate'), { wells: 8, sites: 2, channels: 2, z: 3, size: 256, seed: 1 });
        log(`synthesized ${synth.images} images`);
        const plates = [{ name: 'synthetic', root: synth.root }];
        if (await access(ARRAYSCAN_SAMPLE).then(() => true, () => false)) plates.push({ name: 'arrayscan', root: ARRAYSCAN_SAMPLE });
        else log(`(ArrayScan sample not found at ${ARRAYSCAN_SAMPLE}; skipped)`);
        const live = dashboard;
        for (const plate of plates) {
          if (interrupt.signal.aborted) break;
          const feed: Pick<RunPlateOptions, 'onPlanned' | 'onEvent'> = live ? { onPlanned: (p) => live.plan(p, plate.name), onEvent: (e) => live.event(e, plate.name) } : {};
          const run = await demoRun(plate.root, path.join(tmp, `${plate.name}-out`), { pipeline, signal: interrupt.signal, ...feed });
          worst = Math.max(worst, run.code);
          if (run.report) reports.push(run.report);
        }
        if (interrupt.signal.aborted) worst = EXIT.interrupted;
        if (dashboard) {
          // Ctrl-C now stops serving: the runs are over, and the thumbnails need the outputs until then.
          interrupt.dispose();
          log(`demo finished; the dashboard keeps serving it, and its outputs stay in ${tmp}, until Ctrl-C`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
        }
      } finally {
        interrupt.dispose();
        await dashboard?.close();
        if (!flags.keep) await rm(tmp, { recursive: true, force: true });
        else log(`kept ${tmp}${reports.map((r) => `\n  open ${r}`).join('')}`);
      }
      process.exitCode = worst;
    });
}

/** The demo's pipeline with a first step that holds each task `ms` milliseconds (nothing when 0). */
function withTaskDelay(pipeline: PipelineDefinition, ms: number): PipelineDefinition {
  if (ms === 0) return pipeline;
  return {
    ...pipeline,
    modules: [...(pipeline.modules ?? []), PAUSE_MODULE],
    // Every component but the axis varies inside the one stack: one call, one pause, per task.
    steps: [{ name: 'pause', func: ['demo_pause', { ms }], variableComponents: ['site', 'channel', 'z', 'timepoint'], groupBy: null, backend: 'memory' }, ...pipeline.steps],
  };
}

async function demoRun(plateDir: string, out: string, options: Pick<RunPlateOptions, 'pipeline' | 'signal' | 'onPlanned' | 'onEvent'>): Promise<{ code: number; report: string | undefined }> {
  const run = await runPlate(plateDir, { ...options, out, warn: (m) => log(`warning: ${m}`) });
  process.stdout.write('\n' + formatSummary(`${run.plate.format} plate ${path.basename(run.plate.root)}: ${run.plate.images.length} images, ${run.totals.tasks} tasks`, run.totals, run.outcome.results, { peakRss: run.document.peakRss }) + '\n');
  const rows = [...run.outcome.results.values()].flatMap((r) => r.measurements.filter((m) => m.values.object_count !== undefined).map((m) => [r.taskId, m.values.object_count!] as const));
  const perTask = new Map<string, number>();
  for (const [task, n] of rows) perTask.set(task, (perTask.get(task) ?? 0) + n);
  process.stdout.write(`  objects per task (${rows.length} images counted): ${[...perTask].map(([t, n]) => `${t}:${n}`).join(' ')}\n`);
  return { code: exitCodeForTotals(run.totals, options.signal?.aborted === true), report: run.files?.report };
}
