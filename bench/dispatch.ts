/**
 * Dispatch overhead of the `threads` executor against raw piscina, in the same run.
 *
 *   npm run bench:dispatch -- [--tasks 10000] [--reps 3] [--cycles 5] [--warm-cycles 2]
 *
 * Both sides run the same no-op task (a plan with no inputs and no steps, through the same
 * thread-entry file and so the same `runTask`) on the same number of threads (available CPUs).
 * Raw piscina gets every task queued up front, its fastest mode; ours goes through the dispatcher
 * (weight-ordered queue, per-task abort signal, events). Passes alternate ours / piscina so drifting
 * machine load hits both alike, and the best pass of each is compared. The last line is
 *
 *   ratio_vs_piscina=<our tasks/s ÷ piscina tasks/s> rss_drift_mib=<RSS growth over the measured cycles>
 *
 * RSS drift is measured apart from the timed passes, after a forced GC (run with --expose-gc) and
 * with no pool alive, over several executor lifetimes (see phase 2 below), so it is what running
 * tasks leaves behind in this process, not worker-heap garbage awaiting collection.
 *
 * Runs the compiled library from dist/ (the path is resolved at run time so this works from
 * build/bench/).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Compile from '../dist/compiler/compile.js';
import type { TaskPlan } from '../dist/compiler/plan.js';
import type * as Executors from '../dist/execution/executors/index.js';
import type * as Resources from '../dist/execution/resources/index.js';
import type * as Discover from '../dist/microscopes/discover.js';
import type * as Load from '../dist/pipeline/load.js';
import type * as Synth from '../dist/synth/plate.js';
import type * as PiscinaModule from 'piscina';
import { packageRoot } from './lib.js';

const MiB = 1 << 20;


function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * A real compiled plan (so it has every field the current TaskPlan has) with no inputs, stopping
 * before its last step and ignoring checkpoints: runTask then does only its fixed per-task work
 * (FileManager, registry lookup, an empty step, the result) and touches no file.
 */
function noopPlans(template: TaskPlan, n: number): TaskPlan[] {
  if (template.steps.length < 2) throw new Error('bench/dispatch: the template pipeline needs two steps');
  return Array.from({ length: n }, (_, i) => ({
    ...template,
    taskId: `t${i}`,
    axis: { well: `t${i}` },
    inputs: [],
    checkpoints: { ...template.checkpoints, reuse: false, fromStep: null, toStep: 0 },
    resources: { weight: 1, gpuId: null },
  }));
}

function rssAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage.rss();
}

const root = packageRoot();
const dist = (p: string) => pathToFileURL(path.join(root, 'dist', p)).href;
const { createExecutor } = (await import(dist('execution/executors/index.js'))) as typeof Executors;
const { availableCpus } = (await import(dist('execution/resources/index.js'))) as typeof Resources;
const { Piscina } = (await import('piscina')) as typeof PiscinaModule;
const { synthesizePlate } = (await import(dist('synth/plate.js'))) as typeof Synth;
const { discoverPlate } = (await import(dist('microscopes/discover.js'))) as typeof Discover;
const { compile } = (await import(dist('compiler/compile.js'))) as typeof Compile;
const { loadPipelineFile } = (await import(dist('pipeline/load.js'))) as typeof Load;

const tasks = arg('tasks', 10_000);
const reps = arg('reps', 3);
const threads = availableCpus();
const scratch = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-dispatch-'));
await synthesizePlate(path.join(scratch, 'plate'), { wells: 1, sites: 1, channels: 1, z: 1, size: 32 });
const compiled = await compile((await loadPipelineFile(path.join(root, 'examples', 'standard.json'))).definition, await discoverPlate(path.join(scratch, 'plate')), { out: path.join(scratch, 'out') });
const plans = noopPlans([...compiled.tasks.values()][0]!, tasks);
const entry = pathToFileURL(path.join(root, 'dist', 'execution', 'thread-entry.js')).href;

const ours = createExecutor('threads', { workers: threads, cpus: threads });
const raw = new Piscina({ filename: entry, minThreads: threads, maxThreads: threads, idleTimeout: Infinity, workerData: {} });

async function passOurs(executor: typeof ours): Promise<number> {
  const t0 = performance.now();
  const results = await executor.run(plans);
  const ms = performance.now() - t0;
  const ok = [...results.values()].filter((r) => r.status === 'ok').length;
  if (ok !== tasks) throw new Error(`ours: ${ok}/${tasks} ok: ${JSON.stringify([...results.values()].find((r) => r.status !== 'ok'))}`);
  return ms;
}

async function passPiscina(): Promise<number> {
  const t0 = performance.now();
  const results = (await Promise.all(plans.map((p) => raw.run(p)))) as { status: string }[];
  const ms = performance.now() - t0;
  if (results.some((r) => r.status !== 'ok')) throw new Error('piscina: a no-op task failed');
  return ms;
}

// Phase 1, throughput. Warm-up first: threads started, run-task and its imports loaded in every
// thread, JIT settled.
await passOurs(ours);
await passPiscina();
const oursMs: number[] = [];
const piscinaMs: number[] = [];
for (let r = 0; r < reps; r++) {
  oursMs.push(await passOurs(ours));
  piscinaMs.push(await passPiscina());
  console.log(`pass ${r + 1}: ours ${oursMs[r]!.toFixed(0)} ms, piscina ${piscinaMs[r]!.toFixed(0)} ms (${tasks} tasks, ${threads} threads)`);
}
await ours.close();
await raw.destroy();

// Phase 2, memory: what running tasks leaves behind. Worker threads collect their garbage on
// their own schedule (RSS saws up and down by tens of MiB with no leak), so RSS is taken only with
// no pool alive, after each of several cycles (fresh executor, `reps` batches, close). The first
// `--warm-cycles` absorb one-off growth: the C allocator keeps the arenas of threads that came and
// went (measured: a step of ~25 MiB by the second cycle, flat after). A leak would grow every cycle,
// so the drift is the last cycle's RSS minus the RSS after the warm-up cycles.
const cycles = arg('cycles', 5);
const warmCycles = Math.min(arg('warm-cycles', 2), cycles - 1);
const rssByCycle: number[] = [];
for (let c = 0; c < cycles; c++) {
  const executor = createExecutor('threads', { workers: threads, cpus: threads });
  for (let r = 0; r < reps; r++) await passOurs(executor);
  await executor.close();
  rssByCycle.push(rssAfterGc());
}
const rssBefore = rssByCycle[warmCycles - 1]!;
const rssAfter = rssByCycle[rssByCycle.length - 1]!;
console.log(`RSS after each cycle of ${reps * tasks} tasks: ${rssByCycle.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB (first ${warmCycles} = warm-up)`);
await rm(scratch, { recursive: true, force: true });

const best = (xs: number[]) => Math.min(...xs);
const oursRate = tasks / (best(oursMs) / 1000);
const piscinaRate = tasks / (best(piscinaMs) / 1000);
console.log(`ours ${oursRate.toFixed(0)} tasks/s, piscina ${piscinaRate.toFixed(0)} tasks/s (best of ${reps}); RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB over ${(cycles - warmCycles) * reps * tasks} more tasks${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: drift includes uncollected garbage)'}`);
console.log(`ratio_vs_piscina=${(oursRate / piscinaRate).toFixed(3)} rss_drift_mib=${((rssAfter - rssBefore) / MiB).toFixed(1)}`);
