import type { TaskPlan } from '../../compiler/plan.js';
import type { TaskResult } from '../result.js';
import { prepareWorker, runTask } from '../run-task.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { dispatch, type TaskRunner } from './dispatch.js';

export interface SerialExecutorOptions {
  /**
   * Per-task limit. In-process, a task can only be stopped where it checks its signal (between
   * steps and functions); one stuck in a CPU loop cannot be. `createExecutor('serial', { timeoutMs })`
   * therefore runs tasks one at a time in a worker thread instead, where they can be killed.
   */
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly retryErrors?: boolean;
  readonly retryBackoffMs?: number;
}

/** Runs a plan in this thread. Threads share one process, so RSS is the process's at the task's end. */
export const inProcessRunner: TaskRunner = {
  run(plan, { signal }) {
    const withRss = (r: TaskResult): TaskResult => ({ ...r, peakRssBytes: Math.max(process.memoryUsage.rss(), ...(r.steps ?? []).map((s) => s.peakRssBytes ?? 0)) });
    return { result: runTask(plan, { signal }).then(withRss) };
  },
};

/** Runs tasks one after another in this thread, in the order given. The reference for every other executor's output. */
export class SerialExecutor extends BaseExecutor {
  readonly name = 'serial';
  readonly #options: SerialExecutorOptions;

  constructor(options: SerialExecutorOptions = {}) {
    super();
    this.#options = options;
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    const { timeoutMs, retries, retryErrors, retryBackoffMs } = this.#options;
    return dispatch(plans, inProcessRunner, {
      ...options,
      concurrency: 1,
      order: 'given',
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(retries !== undefined ? { retries } : {}),
      ...(retryBackoffMs !== undefined ? { retryBackoffMs } : {}),
      retryOn: retryErrors ? ['killed', 'timeout', 'error'] : ['killed', 'timeout'],
    });
  }

  protected warmUp(): Promise<void> {
    return prepareWorker();
  }

  protected async shutdown(): Promise<void> {}
}
