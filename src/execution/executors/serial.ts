/**
 * One task at a time, in the order given. Two forms share the dispatch (order, timeout, retries):
 * {@link SerialExecutor} computes in the caller's thread, for library callers who want exactly
 * that; {@link ThreadSerialExecutor}, what `createExecutor('serial')` and the CLI use, hands each
 * task to one worker thread, because a task stuck in a CPU loop on the caller's thread leaves no
 * thread to run a signal handler, a timeout or Ctrl-C.
 */
import type { TaskPlan } from '../../compiler/plan.js';
import type { Executor } from '../executor.js';
import type { TaskResult } from '../result.js';
import { prepareWorker, runTask } from '../run-task.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { dispatch, type TaskRunner } from './dispatch.js';
import type { ResolvedExecutorOptions } from './options.js';
import { ThreadsExecutor } from './threads.js';

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

/**
 * Runs each plan as a run of its own on `engine`. The engine only computes and kills its worker when
 * the attempt's signal fires; order, timeout and retries stay with the serial dispatch.
 */
function delegatingRunner(engine: Executor): TaskRunner {
  return {
    run(plan, { signal }) {
      const result = engine.run([plan], { signal }).then((results) => {
        const r = results.get(plan.taskId);
        if (!r) throw new Error(`${engine.name} executor returned no result for task ${plan.taskId}`);
        return r;
      });
      return { result };
    },
  };
}

/** Runs tasks one after another in this thread, in the order given. The reference for every other executor's output. */
export class SerialExecutor extends BaseExecutor {
  readonly name = 'serial';
  readonly #options: SerialExecutorOptions;

  constructor(options: SerialExecutorOptions = {}) {
    super();
    this.#options = options;
  }

  /** Where each task computes. */
  protected get runner(): TaskRunner {
    return inProcessRunner;
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    const { timeoutMs, retries, retryErrors, retryBackoffMs } = this.#options;
    return dispatch(plans, this.runner, {
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

  protected async shutdown(_force: AbortSignal): Promise<void> {}
}

/**
 * `createExecutor('serial')`: the serial dispatch, with every task computed in one worker thread
 * (kept for the whole run, so modules load once). Its heap limit is `workerMemoryBytes`.
 */
export class ThreadSerialExecutor extends SerialExecutor {
  readonly #thread: ThreadsExecutor;
  readonly #runner: TaskRunner;

  constructor(options: ResolvedExecutorOptions) {
    super({ ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), retries: options.retries, retryErrors: options.retryErrors, retryBackoffMs: options.retryBackoffMs });
    // The thread runs one plan per call and decides nothing: no timeout or retries of its own.
    this.#thread = new ThreadsExecutor({ ...options, workers: 1, timeoutMs: undefined, retries: 0, retryErrors: false });
    this.#runner = delegatingRunner(this.#thread);
  }

  protected override get runner(): TaskRunner {
    return this.#runner;
  }

  protected override warmUp(): Promise<void> {
    return this.#thread.start();
  }

  protected override shutdown(force: AbortSignal): Promise<void> {
    // A forced close that comes after a graceful one must still reach the thread.
    if (!force.aborted) force.addEventListener('abort', () => void this.#thread.close({ force: true }), { once: true });
    return this.#thread.close({ force: force.aborted });
  }
}
