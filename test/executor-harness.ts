/**
 * Shared set-up for the executor tests. Tests that start real workers import the executors from
 * dist/ (built by `npm test` before vitest runs): thread and process workers load compiled
 * JavaScript, which vitest's TypeScript transform cannot provide. Pure-logic tests import src/.
 */
import { existsSync, readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { compile } from '../dist/compiler/compile.js';
import type { TaskPlan } from '../dist/compiler/plan.js';
import { discoverPlate } from '../dist/microscopes/discover.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import type { PipelineDefinition, StepDefinition } from '../dist/pipeline/types.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import type { TaskResult } from '../dist/execution/result.js';
import type { RunEvent } from '../dist/execution/executor.js';
import { REPO, isRunning } from './helpers.js';

export const STEP_FIXTURES = path.join(REPO, 'test', 'fixtures', 'steps');
export const fixture = (file: string): string => path.join(STEP_FIXTURES, file);

/** A tiny plate: `wells` wells × 1 site × 1 channel × 2 z-planes of size², deterministic. */
export async function tinyPlate(dir: string, wells: number, size = 32, seed = 5): Promise<PlateIndex> {
  await synthesizePlate(dir, { wells, sites: 1, channels: 1, z: 2, size, seed });
  return discoverPlate(dir);
}

/**
 * A pipeline whose first step chains the given fixture calls (each acting on one well only) and
 * whose second step writes a max projection per well, so every healthy task has one output file.
 */
export function misbehaving(modules: readonly string[], calls: readonly (readonly [string, Record<string, unknown>])[]): PipelineDefinition {
  const first: StepDefinition = { name: 'misbehave', func: calls.map(([fn, kwargs]) => [fn, kwargs] as const), variableComponents: ['z'], backend: 'memory' };
  return { name: 'misbehave', modules: [...modules], steps: [first, { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] };
}

export async function plansFor(pipeline: PipelineDefinition, plate: PlateIndex, out: string, gpus?: readonly number[]): Promise<TaskPlan[]> {
  const run = await compile(pipeline, plate, { out, baseDir: STEP_FIXTURES, ...(gpus ? { gpus } : {}) });
  return [...run.tasks.values()];
}

/** Records every worker pid seen in `task:start` events (process executors report pids). */
export function pidRecorder(): { readonly pids: Set<number>; readonly events: RunEvent[]; onEvent(e: RunEvent): void } {
  const pids = new Set<number>();
  const events: RunEvent[] = [];
  return {
    pids,
    events,
    onEvent(e) {
      events.push(e);
      if (e.type === 'task:start' && e.worker !== undefined) pids.add(e.worker);
    },
  };
}

/** True when no process runs under this pid any more (gone, or a zombie no one reaped). */
export function isGone(pid: number): boolean {
  return !isRunning(pid);
}

/** Resolves when `file` exists, watching its folder (no polling sleeps); rejects after `timeoutMs`. */
export function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const dir = path.dirname(file);
    const watcher = watch(dir, () => check());
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`timed out waiting for ${file}`));
    }, timeoutMs);
    function check(): void {
      if (!existsSync(file)) return;
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
    check();
  });
}

/**
 * The pid a fixture wrote to `file`. Refuses anything but a positive integer: `process.kill(0)`
 * would signal this whole process group.
 */
export function readPid(file: string): number {
  const pid = Number(readFileSync(file, 'utf8'));
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${file} holds no pid`);
  return pid;
}

export function byWell(results: ReadonlyMap<string, TaskResult>): Record<string, TaskResult> {
  return Object.fromEntries([...results.values()].map((r) => [r.axis.well ?? r.taskId, r]));
}
