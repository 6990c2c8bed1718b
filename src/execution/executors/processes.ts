/**
 * Executors on child processes: `processes` keeps a pool of long-lived workers (like Python's spawn
 * pool: fresh interpreters, user modules loaded once per worker); `subprocess` starts a fresh
 * process for every task (exo2micro style) so nothing one task leaks or corrupts can reach the next,
 * at the price of a Node start-up per task.
 */
import type { TaskPlan } from '../../compiler/plan.js';
import { workerEnv } from '../resources/env-limits.js';
import type { TaskResult } from '../result.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { executorDispatcher, runPolicy, type Dispatcher } from './dispatch.js';
import type { ResolvedExecutorOptions } from './options.js';
import { ProcessPool } from './process-pool.js';

abstract class ChildProcessExecutor extends BaseExecutor {
  readonly #options: ResolvedExecutorOptions;
  readonly #pool: ProcessPool;
  readonly #dispatcher: Dispatcher;

  /** `options.workers` is the pool size as is; {@link createExecutor} does the min(tasks, CPUs, …) sizing. */
  constructor(options: ResolvedExecutorOptions, oneShot: boolean, entry?: string) {
    super();
    this.#options = options;
    this.#pool = new ProcessPool({
      workers: options.workers,
      oneShot,
      execArgv: options.execArgv,
      envFor: (gpuId) => workerEnv({ workers: options.workers, cpus: options.cpus, gpuId, base: options.env }),
      forwardOutput: options.forwardOutput,
      memoryLimitBytes: options.workerMemoryBytes,
      memoryCheckIntervalMs: options.memoryCheckIntervalMs,
      ...(entry ? { entry } : {}),
    });
    this.#dispatcher = executorDispatcher(options, { run: (plan, { signal, threads }) => this.#pool.run(plan, signal, threads) });
  }

  /** Pids of the worker processes alive right now. */
  get pids(): number[] {
    return this.#pool.pids;
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    return this.#dispatcher.run(plans, { ...options, ...runPolicy(this.#options) });
  }

  protected warmUp(): Promise<void> {
    return this.#pool.start();
  }

  protected shutdown(force: AbortSignal): Promise<void> {
    return this.#pool.close(force, this.#options.closeTimeoutMs);
  }
}

/** A pool of long-lived worker processes; a worker that dies fails only its task and is replaced. */
export class ProcessesExecutor extends ChildProcessExecutor {
  readonly name = 'processes';

  constructor(options: ResolvedExecutorOptions, entry?: string) {
    super(options, false, entry);
  }
}

/** A fresh process per task: the strongest isolation, for code that leaks or must be contained. */
export class SubprocessExecutor extends ChildProcessExecutor {
  readonly name = 'subprocess';

  constructor(options: ResolvedExecutorOptions, entry?: string) {
    super(options, true, entry);
  }
}
