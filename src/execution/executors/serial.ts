import type { TaskPlan } from '../../compiler/plan.js';
import type { ExecuteOptions, Executor } from '../executor.js';
import { notStarted } from '../executor.js';
import type { TaskResult } from '../result.js';
import { runTask } from '../run-task.js';

/** Runs tasks one after another in this thread. The reference for every other executor's output. */
export class SerialExecutor implements Executor {
  readonly name = 'serial';

  async run(plans: readonly TaskPlan[], options: ExecuteOptions = {}): Promise<Map<string, TaskResult>> {
    const results = new Map<string, TaskResult>();
    let stopReason: string | undefined;
    for (const plan of plans) {
      if (options.signal?.aborted) stopReason ??= 'run cancelled before this task started';
      if (stopReason !== undefined) {
        results.set(plan.taskId, notStarted(plan, stopReason));
        continue;
      }
      options.onEvent?.({ type: 'task:start', taskId: plan.taskId });
      const result = await runTask(plan, { signal: options.signal });
      results.set(plan.taskId, result);
      options.onEvent?.({ type: 'task:done', result });
      if (options.failFast && result.status !== 'ok') stopReason = `not started: fail-fast after task ${plan.taskId} ended ${result.status}`;
    }
    return results;
  }

  async close(): Promise<void> {}
}
