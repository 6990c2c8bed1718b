/**
 * How fast a dead worker surfaces: time from SIGKILL of a `processes` worker (as the kernel's OOM
 * killer would send) to its task's `killed` result reaching the caller.
 *
 *   npm run bench:kill -- [--kills 8]
 *
 * Every task spins on the CPU after writing its pid to a file (write, then rename, so the file is
 * never seen empty); the bench waits for that file
 * (fs.watch, no sleeps), SIGKILLs the pid, and timestamps the `task:done` event. The pool replaces
 * each killed worker, so the run goes on until every task has been killed once. The last line is
 *
 *   kill_to_result_ms=<median> (also printed: max and each kill)
 *
 * Runs the compiled library from dist/ (the path is resolved at run time so this works from
 * build/bench/).
 */
import { existsSync, readFileSync, watch } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Compile from '../dist/compiler/compile.js';
import type * as Executors from '../dist/execution/executors/index.js';
import type * as Discover from '../dist/microscopes/discover.js';
import type * as Synth from '../dist/synth/plate.js';
import { packageRoot } from './lib.js';


function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Resolves when `file` exists (watching its folder). */
function whenExists(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(path.dirname(file), () => check());
    function check(): void {
      if (!existsSync(file)) return;
      watcher.close();
      resolve();
    }
    check();
  });
}

const SPIN_MODULE = `
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
export const spinForever = {
  name: 'spin_forever',
  description: 'announces its pid, then loops until killed',
  run(stack, kwargs, ctx) {
    const file = path.join(kwargs.announce, ctx.components[0].well + '.pid');
    writeFileSync(file + '.tmp', String(process.pid));
    renameSync(file + '.tmp', file);
    for (;;) {}
  },
};
`;

const root = packageRoot();
const dist = (p: string) => pathToFileURL(path.join(root, 'dist', p)).href;
const { createExecutor } = (await import(dist('execution/executors/index.js'))) as typeof Executors;
const { synthesizePlate } = (await import(dist('synth/plate.js'))) as typeof Synth;
const { discoverPlate } = (await import(dist('microscopes/discover.js'))) as typeof Discover;
const { compile } = (await import(dist('compiler/compile.js'))) as typeof Compile;

const kills = arg('kills', 8);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-kill-'));
const announce = path.join(scratch, 'announce');
await mkdir(announce);
await writeFile(path.join(scratch, 'spin.mjs'), SPIN_MODULE);
const synth = await synthesizePlate(path.join(scratch, 'plate'), { wells: kills, sites: 1, channels: 1, z: 1, size: 32 });
const pipeline = { modules: ['./spin.mjs'], steps: [{ name: 'spin', func: [['spin_forever', { announce }] as const], backend: 'disk' as const }] };
const compiled = await compile(pipeline, await discoverPlate(synth.root), { out: path.join(scratch, 'out'), baseDir: scratch });

const executor = createExecutor('processes', { workers: 2, cpus: 2, forwardOutput: false });
const done = new Map<string, number>();
const waiting = new Map<string, () => void>();
const run = executor.run([...compiled.tasks.values()], {
  onEvent: (e) => {
    if (e.type !== 'task:done') return;
    done.set(e.result.taskId, performance.now());
    if (e.result.status !== 'killed' || e.result.error?.code !== 'E_TASK_KILLED') throw new Error(`task ${e.result.taskId} ended ${e.result.status}, expected killed`);
    waiting.get(e.result.taskId)?.();
  },
});

const samples: number[] = [];
await Promise.all(
  synth.wells.map(async (well) => {
    const file = path.join(announce, `${well}.pid`);
    await whenExists(file);
    const pid = Number(readFileSync(file, 'utf8'));
    // kill(0) would hit this whole process group: only ever signal a real pid.
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${file} holds no pid`);
    const surfaced = new Promise<void>((resolve) => waiting.set(well, resolve));
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await surfaced;
    samples.push(done.get(well)! - killedAt);
  }),
);
const results = await run;
await executor.close();
await rm(scratch, { recursive: true, force: true });

const sorted = [...samples].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
const example = [...results.values()][0]!;
console.log(`${samples.length} workers SIGKILLed; each task ended "${example.status}": ${example.error?.message}`);
console.log(`per kill (ms): ${samples.map((s) => s.toFixed(1)).join(', ')}; max ${sorted.at(-1)!.toFixed(1)} ms`);
console.log(`kill_to_result_ms=${median.toFixed(1)}`);
