/**
 * `npm run bench:bullmq`: the bullmq executor with real `plateflow worker` processes on this
 * machine and Redis on 127.0.0.1:6390 (started from /usr/bin/redis-server when none answers).
 *
 * 1. Throughput: no-op tasks (no input, no function, no file written: only the executor's and
 *    runTask's fixed per-task work, as in `bench:dispatch`) through 2 local workers; tasks/s from
 *    the first enqueue to the last recorded result, after a warm-up run that forks the workers'
 *    task processes.
 * 2. Soak: a 500-task run (each task sleeps --task-ms in its process and reports one measurement
 *    row) while a worker is SIGKILLed and replaced every --kill-every-ms, 20 times. Every
 *    execution is logged by the task itself, so the output shows how many ran twice, while the
 *    run must still record each task exactly once.
 *
 * Last line: `tasks_per_s=<x> lost=<n> duplicates=<m>` (lost = tasks without an ok result, in both
 * phases; duplicates = measurement rows recorded more than once).
 *
 * Options: --tasks 2000 --concurrency 4 --soak-tasks 500 --kills 20 --task-ms 150 --kill-every-ms 600
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskPlan } from '../dist/compiler/plan.js';
import type * as Distributed from '../dist/distributed/index.js';
import type * as LocalRedis from '../dist/distributed/local-redis.js';
import type { TaskResult } from '../dist/execution/result.js';
import type * as Synth from '../dist/synth/plate.js';
import type * as Executors from '../dist/execution/executors/index.js';
import { packageRoot } from './lib.js';

const ROOT = packageRoot();
const dist = <T>(relative: string): Promise<T> => import(pathToFileURL(path.join(ROOT, 'dist', relative)).href) as Promise<T>;
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number, got ${process.argv[i + 1]}`);
  return v;
}

const TASKS = option('tasks', 2000);
const CONCURRENCY = option('concurrency', 4);
const SOAK_TASKS = option('soak-tasks', 500);
const KILLS = option('kills', 20);
const TASK_MS = option('task-ms', 150);
const KILL_EVERY_MS = option('kill-every-ms', 600);

interface Worker {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  isReady: boolean;
}

const workers = new Set<Worker>();

function startWorker(url: string, queue: string, roots: string, extra: readonly string[] = []): Worker {
  const proc = spawn(process.execPath, [CLI, 'worker', '--redis', url, '--queue', queue, '--roots', roots, '--concurrency', String(CONCURRENCY), '--json', '--quiet', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('"type":"ready"')) resolve();
    });
    void exited.then(() => reject(new Error(`worker exited before it was ready: ${stderr}`)));
  });
  const w: Worker = { proc, ready, exited, isReady: false };
  // A replacement may be killed before it is ready; nobody waits for it then.
  ready.then(() => (w.isReady = true)).catch(() => {});
  workers.add(w);
  void exited.then(() => workers.delete(w));
  return w;
}

async function stopAll(): Promise<void> {
  const all = [...workers];
  for (const w of all) w.proc.kill('SIGTERM');
  const timer = setTimeout(() => all.forEach((w) => w.proc.kill('SIGKILL')), 20_000);
  await Promise.all(all.map((w) => w.exited));
  clearTimeout(timer);
}

/**
 * A task built from a compiled template. `noop`: no input and two function-less memory steps of
 * which only the first runs (`toStep: 0`), so `runTask` does its fixed per-task work and touches no
 * file — the same no-op as `bench:dispatch`, so the figures compare. Otherwise one 32×32 input
 * image goes through `chain` in one memory step (the soak's sleeping task).
 */
function benchPlan(template: TaskPlan, i: number, outputRoot: string, task: { kind: 'noop' } | { kind: 'chain'; chain: TaskPlan['steps'][number]['pattern']['default']; modules: readonly string[] }): TaskPlan {
  const id = `T${String(i).padStart(5, '0')}`;
  const memoryStep = (index: number, name: string, chain: TaskPlan['steps'][number]['pattern']['default']) => ({
    ...template.steps[0]!,
    index,
    name,
    id: `${index + 1}_${name}`,
    hash: `${name}-${index}`,
    pattern: { default: chain, byGroup: {} },
    backend: 'memory' as const,
    outputDir: null,
    outputFormat: null,
    main: false,
  });
  const noop = task.kind === 'noop';
  return {
    ...template,
    taskId: id,
    axis: { well: id },
    inputs: noop ? [] : [{ ...template.inputs[0]!, components: { ...template.inputs[0]!.components, well: id } }],
    steps: noop ? [memoryStep(0, 'noop', null), memoryStep(1, 'never', null)] : [memoryStep(0, 'sleep', task.chain)],
    outputRoot,
    modules: noop ? [] : task.modules,
    checkpoints: { reuse: false, fromStep: null, toStep: noop ? 0 : null, verifyInputs: false },
  };
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (ms) of a process from /proc, 0 when it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function processes(): { pid: number; ppid: number; comm: string }[] {
  const out: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.push({ pid: Number(entry), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), comm });
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU ms so far of: this process, the worker processes, their task processes, redis-server. */
function cpuSnapshot(): { coordinator: number; workers: number; tasks: number; redis: number } {
  const all = processes();
  const workerPids = [...workers].map((w) => w.proc.pid!).filter(Boolean);
  const taskPids = all.filter((p) => workerPids.includes(p.ppid)).map((p) => p.pid);
  const redisPids = all.filter((p) => p.comm === 'redis-server').map((p) => p.pid);
  const sum = (pids: number[]) => pids.reduce((a, p) => a + cpuMs(p), 0);
  return { coordinator: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000, workers: sum(workerPids), tasks: sum(taskPids), redis: sum(redisPids) };
}

function countLostAndDuplicates(results: ReadonlyMap<string, TaskResult>, expected: number): { lost: number; duplicates: number; rows: number } {
  const ok = [...results.values()].filter((r) => r.status === 'ok').length;
  const rows = [...results.values()].flatMap((r) => r.measurements.map((m) => `${m.task}|${m.step}|${m.fn}|${m.image}`));
  return { lost: expected - ok, duplicates: rows.length - new Set(rows).size, rows: rows.length };
}

async function main(): Promise<void> {
  const { ensureLocalRedis, deleteQueueKeys } = await dist<typeof LocalRedis>('distributed/local-redis.js');
  const { BullmqExecutor } = await dist<typeof Distributed>('distributed/index.js');
  const { synthesizePlate } = await dist<typeof Synth>('synth/plate.js');
  const { createExecutor } = await dist<typeof Executors>('execution/executors/index.js');
  const { compile } = await dist<{ compile: (p: unknown, plate: unknown, o: unknown) => Promise<{ tasks: Map<string, TaskPlan> }> }>('compiler/compile.js');
  const { discoverPlate } = await dist<{ discoverPlate: (root: string) => Promise<unknown> }>('microscopes/discover.js');

  const redis = await ensureLocalRedis(6390);
  if (!redis) throw new Error('bench:bullmq needs Redis: nothing answers on 127.0.0.1:6390 and /usr/bin/redis-server is not installed (apt-get install redis-server)');
  console.log(`redis: ${redis.url}${redis.started ? ' (started by this bench)' : ''}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-bullmq-'));
  let lostTotal = 0;
  let duplicatesTotal = 0;
  let tasksPerSecond = 0;
  try {
    const plate = await synthesizePlate(path.join(dir, 'plate'), { wells: 1, sites: 1, channels: 1, z: 1, size: 32, seed: 1 });
    const compiled = await compile({ steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'] }] }, await discoverPlate(plate.root), { out: path.join(dir, 'template-out') });
    const template = [...compiled.tasks.values()][0]!;

    // 1. Throughput.
    const queue = `bench-${process.pid}`;
    await Promise.all([startWorker(redis.url, queue, dir), startWorker(redis.url, queue, dir)].map((w) => w.ready));
    const warm = new BullmqExecutor({ redis: redis.url, queue });
    await warm.run(Array.from({ length: 200 }, (_, i) => benchPlan(template, i, path.join(dir, 'warm'), { kind: 'noop' })));
    await warm.close();
    const executor = new BullmqExecutor({ redis: redis.url, queue });
    const plans = Array.from({ length: TASKS }, (_, i) => benchPlan(template, i, path.join(dir, 'noop'), { kind: 'noop' }));
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    const results = await executor.run(plans);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuSnapshot();
    await executor.close();
    tasksPerSecond = TASKS / seconds;
    const t = countLostAndDuplicates(results, TASKS);
    lostTotal += t.lost;
    duplicatesTotal += t.duplicates;
    console.log(`throughput: ${TASKS} no-op tasks, 2 workers × concurrency ${CONCURRENCY}, ${seconds.toFixed(2)} s → ${tasksPerSecond.toFixed(0)} tasks/s (lost ${t.lost}, duplicates ${t.duplicates}); load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs`);
    const perTask = (k: keyof typeof cpuAfter) => ((cpuAfter[k] - cpuBefore[k]) / TASKS).toFixed(2);
    console.log(`  CPU ms per task: coordinator ${perTask('coordinator')}, workers ${perTask('workers')}, task processes ${perTask('tasks')}, redis ${perTask('redis')}`);
    await stopAll();

    // The same plans on the local `processes` executor (one pool of task processes, no Redis), for scale.
    const local = createExecutor('processes', { workers: 2 * CONCURRENCY, cpus: 2 * CONCURRENCY });
    await local.run(Array.from({ length: 200 }, (_, i) => benchPlan(template, i, path.join(dir, 'warm-local'), { kind: 'noop' })));
    const localStarted = performance.now();
    await local.run(Array.from({ length: TASKS }, (_, i) => benchPlan(template, i, path.join(dir, 'noop-local'), { kind: 'noop' })));
    const localPerSecond = TASKS / ((performance.now() - localStarted) / 1000);
    await local.close();
    console.log(`  same plans on the local processes executor (${2 * CONCURRENCY} task processes, no Redis): ${localPerSecond.toFixed(0)} tasks/s; bullmq ÷ processes = ${(tasksPerSecond / localPerSecond).toFixed(2)}`);

    // 2. Soak: kill a worker every KILL_EVERY_MS, KILLS times, during a SOAK_TASKS run.
    const module = path.join(dir, 'bench-sleep.mjs');
    const executions = path.join(dir, 'executions.log');
    await writeFile(
      module,
      `import { appendFileSync } from 'node:fs';
export const benchSleep = {
  name: 'bench_sleep',
  description: 'sleeps kwargs.ms, logs the execution, reports one row',
  run(stack, kwargs, ctx) {
    appendFileSync(kwargs.log, ctx.components[0].well + ' ' + process.pid + '\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, kwargs.ms);
    return { stack, measurements: [{ slept_ms: kwargs.ms }] };
  },
};
`,
    );
    const soakQueue = `bench-soak-${process.pid}`;
    const soakArgs = ['--lock-duration', '2s', '--stalled-interval', '500ms'];
    const soakConcurrency = 2;
    const startSoakWorker = () => startWorker(redis.url, soakQueue, dir, [...soakArgs, '--concurrency', String(soakConcurrency)]);
    await Promise.all([startSoakWorker(), startSoakWorker()].map((w) => w.ready));
    const soakPlans = Array.from({ length: SOAK_TASKS }, (_, i) => benchPlan(template, i, path.join(dir, 'soak'), { kind: 'chain', chain: [{ fn: 'bench_sleep', kwargs: { ms: TASK_MS, log: executions } }], modules: [pathToFileURL(module).href] }));
    const soak = new BullmqExecutor({ redis: redis.url, queue: soakQueue });
    const soakStarted = performance.now();
    let kills = 0;
    let finished = false;
    const killer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
      while (!finished && kills < KILLS) {
        const live = [...workers].filter((w) => w.isReady && w.proc.exitCode === null && w.proc.signalCode === null);
        const victim = live[Math.floor(Math.random() * live.length)];
        if (victim) {
          victim.proc.kill('SIGKILL');
          kills++;
          await victim.exited;
          startSoakWorker();
        }
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
      }
    })();
    const soakResults = await soak.run(soakPlans);
    finished = true;
    await killer;
    await soak.close();
    const soakSeconds = (performance.now() - soakStarted) / 1000;
    const s = countLostAndDuplicates(soakResults, SOAK_TASKS);
    const lines = (await readFile(executions, 'utf8')).trim().split('\n');
    const ranTwice = lines.length - new Set(lines.map((l) => l.split(' ')[0])).size;
    const attempts = [...soakResults.values()].filter((r) => (r.attempts ?? 1) > 1).length;
    // Attempts count every start, and no soak task fails by itself: each start after the first was a
    // worker lost under the task (workers once failed a task at its 6th loss).
    const mostStarts = Math.max(0, ...[...soakResults.values()].map((r) => r.attempts ?? 1));
    lostTotal += s.lost;
    duplicatesTotal += s.duplicates;
    console.log(
      `soak: ${SOAK_TASKS} tasks of ${TASK_MS} ms, 2 workers × concurrency ${soakConcurrency}, ${kills} worker SIGKILLs (every ${KILL_EVERY_MS} ms, replaced at once), ${soakSeconds.toFixed(1)} s: ` +
        `${soakResults.size} results, ${SOAK_TASKS - s.lost} ok, lost ${s.lost}, ${lines.length} executions (${ranTwice} re-executions after a kill, ${attempts} tasks recorded with >1 attempt, at most ${mostStarts} starts of one task), ${s.rows} measurement rows, duplicates ${s.duplicates}`,
    );
    if (kills < KILLS) console.log(`note: the run ended after ${kills} kills; raise --soak-tasks or --task-ms for ${KILLS}`);
    const bad = [...soakResults.values()].filter((r) => r.status !== 'ok').slice(0, 5);
    for (const r of bad) console.log(`  not ok: ${r.taskId} ${r.status}: ${r.error?.message ?? ''}`);
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    await deleteQueueKeys(redis.url, [`bench-${process.pid}`, `bench-soak-${process.pid}`]);
  }
  console.log(`tasks_per_s=${tasksPerSecond.toFixed(1)} lost=${lostTotal} duplicates=${duplicatesTotal}`);
  if (lostTotal > 0 || duplicatesTotal > 0) process.exitCode = 1;
}

process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
await main();
