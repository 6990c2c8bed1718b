/**
 * What every executor shares around the dispatch engine: refusing work after `close()`, merging
 * the caller's signal with the executor's own "force close" signal, and a `close()` that can be
 * called twice, waits for running work unless forced, and always ends with every worker gone.
 * `run()` may be called again while earlier runs are in flight; the worker-pool engines hand every
 * run to their one dispatcher, so overlapping runs share the workers.
 */
import { pythonNeeds } from '../../compiler/python-steps.js';
import { pythonRefOf, type PythonTarget } from '../../python/target.js';
import type { TaskPlan } from '../../compiler/plan.js';
import type { ExecuteOptions, Executor } from '../executor.js';
import type { TaskResult } from '../result.js';
import { ExecutorClosedError } from './errors.js';

export type RunOptions = ExecuteOptions & { readonly signal: AbortSignal };

/** A run of no plans: nothing waits, so it is at once "all started" and over. */
export function nothingToRun(options: ExecuteOptions): Map<string, TaskResult> {
  options.onEvent?.({ type: 'run:all-started' });
  return new Map();
}

export abstract class BaseExecutor implements Executor {
  abstract readonly name: string;
  readonly #force = new AbortController();
  readonly #active = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  readonly #prepared = new Set<string>();

  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ExecutorClosedError(this.name));
    this.#starting ??= this.warmUp();
    return this.#starting;
  }

  /** See {@link Executor.prepare}; each interpreter and set of functions is loaded once. */
  async prepare(plans: readonly TaskPlan[]): Promise<void> {
    if (this.#closing) return;
    for (const [executable, targets] of pythonNeeds(plans)) {
      const key = JSON.stringify([executable, targets.map(pythonRefOf).sort()]);
      if (this.#prepared.has(key)) continue;
      this.#prepared.add(key);
      await this.preloadPython(executable, targets);
    }
  }

  async run(plans: readonly TaskPlan[], options: ExecuteOptions = {}): Promise<Map<string, TaskResult>> {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    if (plans.length === 0) return nothingToRun(options);
    const signal = options.signal ? AbortSignal.any([options.signal, this.#force.signal]) : this.#force.signal;
    const running = this.execute(plans, { ...options, signal });
    this.#active.add(running);
    try {
      return await running;
    } finally {
      this.#active.delete(running);
    }
  }

  /**
   * Graceful by default: running tasks finish, then workers exit (killed after the close timeout).
   * `force` stops running tasks now (they end `cancelled`) and kills workers. A forced call after
   * a graceful one escalates it; every call returns the same promise.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force && !this.#force.signal.aborted) this.#force.abort(new ExecutorClosedError(this.name, 'closed with force: running tasks were stopped'));
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#active]);
      await this.shutdown(this.#force.signal);
    })();
    return this.#closing;
  }

  /** Starts the workers and loads the task code in each; see {@link Executor.start}. */
  protected abstract warmUp(): Promise<void>;

  /**
   * Starts `executable` in every worker and imports the targets (see {@link Executor.prepare}).
   * Executors whose workers are processes leave it to the first Python step of each.
   */
  protected preloadPython(_executable: string, _targets: readonly PythonTarget[]): Promise<void> {
    return Promise.resolve();
  }

  /** Runs the plans; `options.signal` already includes the force-close signal. */
  protected abstract execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>>;

  /** Ends every worker; when `force` is (or becomes) aborted, without waiting for them. */
  protected abstract shutdown(force: AbortSignal): Promise<void>;
}
