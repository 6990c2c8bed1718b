/**
 * Tasks on a piscina 5 worker-thread pool. Chosen because it surfaces a dead thread as a rejected
 * task (instead of a hung pool) and kills the thread of an aborted task, which is how timeouts and
 * cancellation reach code stuck in a CPU loop.
 *
 * Plans cross as structured clones; pixels never cross at all, since each task reads and writes
 * its own images inside its thread, and results carry only paths and measurements.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { TaskPlan } from '../../compiler/plan.js';
import { serializeError } from '../../errors.js';
import type { TaskResult } from '../result.js';
import type { QueueOrder } from '../scheduler.js';
import type { TaskRequest, ThreadWorkerData, WarmUpRequest } from '../thread-entry.js';
import { threadLimits } from '../resources/env-limits.js';
import type { PythonTarget } from '../../python/target.js';
import { BaseExecutor, type RunOptions } from './base.js';
import { executorDispatcher, runPolicy, type Dispatcher, type Attempt, type RunnerHandle } from './dispatch.js';
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
  readonly #entry: string;
  readonly #dispatcher: Dispatcher;
  #pool: Piscina<TaskRequest | WarmUpRequest, TaskResult | null> | undefined;
  /** Event sinks of the runs in progress, for pool errors that belong to no task. */
  readonly #listeners = new Set<NonNullable<RunOptions['onEvent']>>();

  /**
   * `options.workers` is the pool size as is; {@link createExecutor} does the min(tasks, CPUs, …)
   * sizing. `order`: of the tasks within a run (`given` makes one thread a serial executor).
   * `entry`: the thread's module (tests substitute their own).
   */
  constructor(options: ResolvedExecutorOptions, { order = 'largest-first', entry = THREAD_ENTRY }: { readonly order?: QueueOrder; readonly entry?: string } = {}) {
    super();
    this.#options = options;
    this.#entry = entry;
    this.#dispatcher = executorDispatcher(options, { run: (plan, attempt) => this.#runOne(plan, attempt) }, order);
  }

  #ensurePool(): Piscina<TaskRequest | WarmUpRequest, TaskResult | null> {
    const memory = this.#options.workerMemoryBytes;
    this.#pool ??= new Piscina<TaskRequest | WarmUpRequest, TaskResult | null>({
      filename: this.#entry,
      minThreads: this.#options.workers,
      maxThreads: this.#options.workers,
      // One task per thread at a time: a thread is killed with its task, so it must hold only one.
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      // geotiff's dependency `web-worker` runs its worker bootstrap in any non-main thread and
      // destructures `workerData`; undefined there crashes the thread at import. An object makes it
      // see "not one of mine" and behave as on the main thread.
      workerData: { threadLimits: threadLimits({ workers: this.#options.workers, cpus: this.#options.cpus, base: this.#options.env }) } satisfies ThreadWorkerData,
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

  protected warmUp(): Promise<void> {
    return this.#everyThread();
  }

  protected override preloadPython(executable: string, targets: readonly PythonTarget[]): Promise<void> {
    return this.#everyThread({ python: { executable, targets } });
  }

  /**
   * One warm-up request per thread: each holds its thread until all have arrived (or a few seconds
   * passed), so every thread gets exactly one.
   */
  async #everyThread(extra: Omit<WarmUpRequest, 'warmUp'> = {}): Promise<void> {
    const pool = this.#ensurePool();
    const threads = this.#options.workers;
    const warmUp = { arrived: new SharedArrayBuffer(4), threads, timeoutMs: WARM_UP_WAIT_MS };
    // A thread that fails to start reports through the pool's 'error' event; start() stays best effort.
    await Promise.allSettled(Array.from({ length: threads }, () => pool.run({ warmUp, ...extra })));
  }

  protected execute(plans: readonly TaskPlan[], options: RunOptions): Promise<Map<string, TaskResult>> {
    const listener = options.onEvent;
    if (listener) this.#listeners.add(listener);
    return this.#dispatcher.run(plans, { ...options, ...runPolicy(this.#options) }).finally(() => {
      if (listener) this.#listeners.delete(listener);
    });
  }

  /**
   * The thread answers on its own port when it begins the task, after piscina has started it and
   * it has loaded the task code: that moment, not the hand-over, starts the task's timeout.
   */
  #runOne(plan: TaskPlan, { signal, threads }: Attempt): RunnerHandle {
    const handedOver = performance.now();
    const { port1, port2 } = new MessageChannel();
    const started = new Promise<void>((resolve) => port1.once('message', () => resolve()));
    const request: TaskRequest = { plan, started: port2, threads };
    // A rejection after our own abort is piscina's AbortError; the dispatcher has already recorded the outcome.
    // A plan always gets a TaskResult back; null answers only warm-up requests.
    const result = (this.#ensurePool().run(request, { signal, transferList: [port2] }) as Promise<TaskResult>)
      .catch((err: unknown): TaskResult => {
        const killed = describeThreadFailure(plan.taskId, err, this.#options.workerMemoryBytes);
        if (!killed) throw err;
        return { taskId: plan.taskId, axis: plan.axis, status: 'killed', error: serializeError(killed), seconds: (performance.now() - handedOver) / 1000, images: plan.inputs.length, outputs: [], measurements: [] };
      })
      .finally(() => port1.close());
    return { started, result };
  }

  protected async shutdown(force: AbortSignal): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    // Threads die with this process, so nothing can be orphaned; the deadline only bounds close().
    if (!force.aborted) {
      const deadline = AbortSignal.timeout(this.#options.closeTimeoutMs);
      // Each thread ends its Python processes and reaps them while its event loop still runs: a
      // process that outlived its thread would die (PDEATHSIG) but stay a zombie of this process.
      const done = this.#everyThread({ closePython: true }).then(() => pool.close({ force: false }));
      await Promise.race([done, once(deadline, 'abort'), once(force, 'abort')]).catch(() => {});
    }
    await pool.destroy();
  }
}
