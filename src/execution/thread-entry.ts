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
  // Threads share the process, so this is the process's RSS when the task ended, not the task's own peak.
  return { ...result, peakRssBytes: process.memoryUsage.rss() };
}
