/**
 * Worker-thread side of the `threads` executor, loaded by piscina by path (never exported from the
 * package). It runs one plan with the same `runTask` as every executor; user modules are loaded
 * once per thread by `runTask`'s registry cache.
 */
import type { TaskPlan } from '../compiler/plan.js';
import type { TaskResult } from './result.js';
import { runTask } from './run-task.js';

export default async function runPlanInThread(plan: TaskPlan): Promise<TaskResult> {
  const result = await runTask(plan);
  // Threads share the process: this is the process's RSS when the task ended, or the highest
  // per-step peak when --memory-debug sampled them; never the task's own peak alone.
  return { ...result, peakRssBytes: Math.max(process.memoryUsage.rss(), ...(result.steps ?? []).map((s) => s.peakRssBytes ?? 0)) };
}
