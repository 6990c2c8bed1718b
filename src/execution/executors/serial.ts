/**
 * One task at a time, in this thread, in the order given: for library callers who want exactly
 * that (a debugger on the task code, no worker to start), and the fallback when the compiled
 * worker entry is missing. `createExecutor('serial')` and the CLI run the same order on one worker
 * thread instead, because a task stuck in a CPU loop on the caller's thread leaves no thread to run
 * a signal handler, a timeout or Ctrl-C.
 */
import type { TaskPlan } from '../../compiler/plan.js';
import type { TaskResult } from '../result.js';
import type { PythonTarget } from '../../python/target.js';
import { closePythonWorkers, preloadPython as loadPythonHere } from '../python-steps.js';
import { prepareWorker, runTask } from '../run-task.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { Dispatcher, type TaskRunner } from './dispatch.js';

export interface SerialExecutorOptions {
  /**
   * Per-task limit. In-process, a task can only be stopped where it checks its signal (between
   * steps and functions); one stuck in a CPU loop cannot be. `createExecutor('serial')` runs tasks
   * one at a time in a worker thread instead, where they can be killed.
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
  /** One for all runs: overlapping runs still compute one task at a time, earlier runs first. */
  readonly #dispatcher = new Dispatcher(inProcessRunner, { concurrency: 1, order: 'given' });

  constructor(options: SerialExecutorOptions = {}) {
    super();
    this.#options = options;
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    const { timeoutMs, retries, retryErrors, retryBackoffMs } = this.#options;
    return this.#dispatcher.run(plans, {
      ...options,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(retries !== undefined ? { retries } : {}),
      ...(retryBackoffMs !== undefined ? { retryBackoffMs } : {}),
      retryOn: retryErrors ? ['killed', 'timeout', 'error'] : ['killed', 'timeout'],
    });
  }

  protected warmUp(): Promise<void> {
    return prepareWorker();
  }

  protected override preloadPython(executable: string, targets: readonly PythonTarget[]): Promise<void> {
    return loadPythonHere(executable, targets);
  }

  /** Tasks ran in this thread, so their Python processes are this thread's: end them with the executor. */
  protected shutdown(_force: AbortSignal): Promise<void> {
    return closePythonWorkers();
  }
}
