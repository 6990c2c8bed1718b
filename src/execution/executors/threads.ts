/**
 * Tasks on a piscina 5 worker-thread pool. Chosen because it surfaces a dead thread as a rejected
 * task (instead of a hung pool) and kills the thread of an aborted task, which is how timeouts and
 * cancellation reach code stuck in a CPU loop.
 *
 * Plans cross as structured clones; pixels never cross at all, since each task reads and writes
 * its own images inside its thread, and results carry only paths and measurements.
 */
import { once } from 'node:events';
import { Piscina } from 'piscina';
import type { TaskPlan } from '../../compiler/plan.js';
import { serializeError } from '../../errors.js';
import type { TaskResult } from '../result.js';
import type { WarmUpRequest } from '../thread-entry.js';
import { GpuSlots, gpuSlotCapacity } from '../resources/gpu-slots.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { dispatch, dispatchPolicy, type TaskRunner } from './dispatch.js';
import { describeThreadFailure } from './exit-causes.js';
import type { ResolvedExecutorOptions } from './options.js';

/** Compiled next to this file in dist/; a worker cannot load TypeScript. */
export const THREAD_ENTRY = new URL('../thread-entry.js', import.meta.url).href;

const MiB = 1024 * 1024;
/** How long a warmed-up thread waits for the others to come up before it takes work anyway. */
const WARM_UP_WAIT_MS = 5000;

export class ThreadsExecutor extends BaseExecutor {
  readonly name = 'threads';
  readonly #options: ResolvedExecutorOptions;
  readonly #gpuSlots: GpuSlots;
  #pool: Piscina<TaskPlan | WarmUpRequest, TaskResult | null> | undefined;
  /** Event sinks of the runs in progress, for pool errors that belong to no task. */
  readonly #listeners = new Set<NonNullable<RunOptions['onEvent']>>();

  /** `options.workers` is the pool size as is; {@link createExecutor} does the min(tasks, CPUs, …) sizing. */
  constructor(options: ResolvedExecutorOptions) {
    super();
    this.#options = options;
    this.#gpuSlots = new GpuSlots(gpuSlotCapacity(options.gpus, options.gpuMemoryPerTaskMiB));
  }

  #ensurePool(): Piscina<TaskPlan | WarmUpRequest, TaskResult | null> {
    const memory = this.#options.workerMemoryBytes;
    this.#pool ??= new Piscina<TaskPlan | WarmUpRequest, TaskResult | null>({
      filename: THREAD_ENTRY,
      minThreads: this.#options.workers,
      maxThreads: this.#options.workers,
      // One task per thread at a time: a thread is killed with its task, so it must hold only one.
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      // geotiff's dependency `web-worker` runs its worker bootstrap in any non-main thread and
      // destructures `workerData`; undefined there crashes the thread at import. An object makes it
      // see "not one of mine" and behave as on the main thread.
      workerData: {},
      ...(memory !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: Math.max(16, Math.floor(memory / MiB)) } } : {}),
    });
    // piscina emits 'error' for a thread that fails while running no task (e.g. at start-up);
    // unheard, that event would crash this process. Tasks report their own failures.
    if (this.#pool.listenerCount('error') === 0) {
      this.#pool.on('error', (err: unknown) => {
        const message = `worker thread failed outside any task: ${err instanceof Error ? err.message : String(err)}`;
        for (const listener of this.#listeners) listener({ type: 'log', level: 'warn', message });
      });
    }
    return this.#pool;
  }

  protected async warmUp(): Promise<void> {
    const pool = this.#ensurePool();
    const threads = this.#options.workers;
    const warmUp = { arrived: new SharedArrayBuffer(4), threads, timeoutMs: WARM_UP_WAIT_MS };
    // A thread that fails to start reports through the pool's 'error' event; start() stays best effort.
    await Promise.allSettled(Array.from({ length: threads }, () => pool.run({ warmUp })));
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    const pool = this.#ensurePool();
    const heapLimit = this.#options.workerMemoryBytes;
    const runner: TaskRunner = {
      run(plan, { signal }) {
        const started = performance.now();
        // A rejection after our own abort is piscina's AbortError; the dispatcher has already recorded the outcome.
        // A plan always gets a TaskResult back; null answers only warm-up requests.
        const result = (pool.run(plan, { signal }) as Promise<TaskResult>).catch((err: unknown): TaskResult => {
          const killed = describeThreadFailure(plan.taskId, err, heapLimit);
          if (!killed) throw err;
          return { taskId: plan.taskId, axis: plan.axis, status: 'killed', error: serializeError(killed), seconds: (performance.now() - started) / 1000, images: plan.inputs.length, outputs: [], measurements: [] };
        });
        return { result };
      },
    };
    const o = this.#options;
    const listener = options.onEvent;
    if (listener) this.#listeners.add(listener);
    return dispatch(plans, runner, {
      ...options,
      ...dispatchPolicy(o, this.#gpuSlots),
    }).finally(() => {
      if (listener) this.#listeners.delete(listener);
    });
  }

  protected async shutdown(force: AbortSignal): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    // Threads die with this process, so nothing can be orphaned; the deadline only bounds close().
    if (!force.aborted) {
      const deadline = AbortSignal.timeout(this.#options.closeTimeoutMs);
      const done = pool.close({ force: false });
      await Promise.race([done, once(deadline, 'abort'), once(force, 'abort')]).catch(() => {});
    }
    await pool.destroy();
  }
}
