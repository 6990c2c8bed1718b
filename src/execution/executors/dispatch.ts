/**
 * The dispatch engine every executor shares: one queue, at most `concurrency` tasks in flight,
 * per-task timeouts, run-level cancellation, retries with backoff, fail-fast and GPU slots. An
 * executor only supplies a {@link TaskRunner} that knows how to run one plan on one of its
 * workers and how to kill that worker when asked.
 *
 * The engine never waits on a worker to agree that a task is over: when a task's signal fires
 * (timeout, cancel, forced close) its result is decided at once and the runner is told to kill the
 * worker. That is what keeps a CPU-bound loop or a wedged native call from hanging the run.
 */
import { performance } from 'node:perf_hooks';
import type { TaskPlan } from '../../compiler/plan.js';
import { AbortError, serializeError } from '../../errors.js';
import type { ExecuteOptions, RunEvent } from '../executor.js';
import { notStarted } from '../executor.js';
import type { GpuSlots } from '../resources/gpu-slots.js';
import type { TaskResult, TaskStatus } from '../result.js';
import { TaskQueue, type QueueOrder } from '../scheduler.js';
import { ResourceError, TaskTimeoutError } from './errors.js';
import type { ResolvedExecutorOptions } from './options.js';

export interface Attempt {
  /** Fires when the task must stop now (timeout, run cancelled, executor force-closed): kill its worker. */
  readonly signal: AbortSignal;
  /** 1 for the first try. */
  readonly attempt: number;
}

export interface RunnerHandle {
  /** Pid or thread id of the worker that took the task, when known (for the `task:start` event). */
  readonly worker?: number;
  /**
   * The task's own outcome, including worker deaths as `killed` results. It may reject only for a
   * fault of the executor; after the attempt's signal fired, whatever it settles to is ignored.
   */
  readonly result: Promise<TaskResult>;
}

export interface TaskRunner {
  run(plan: TaskPlan, attempt: Attempt): RunnerHandle;
}

export interface DispatchOptions extends ExecuteOptions {
  readonly concurrency: number;
  /** @default 'largest-first' */
  readonly order?: QueueOrder;
  /** Per-task wall-clock limit; the worker is killed when it passes. */
  readonly timeoutMs?: number;
  /** Extra attempts for a task whose result status is in `retryOn`. @default 0 */
  readonly retries?: number;
  /** @default ['killed', 'timeout']: a crash or hang may be transient, an exception usually is not */
  readonly retryOn?: readonly TaskStatus[];
  /** First retry delay; doubles per attempt, capped at 30 s. @default 500 */
  readonly retryBackoffMs?: number;
  readonly gpuSlots?: GpuSlots;
}

/** The dispatch settings that follow from an executor's resolved options: pool size, timeout, retry policy, GPU slots. */
export function dispatchPolicy(o: ResolvedExecutorOptions, gpuSlots: GpuSlots): Omit<DispatchOptions, keyof ExecuteOptions> {
  return {
    concurrency: o.workers,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    retries: o.retries,
    retryBackoffMs: o.retryBackoffMs,
    retryOn: o.retryErrors ? ['killed', 'timeout', 'error'] : ['killed', 'timeout'],
    gpuSlots,
  };
}

interface Pending {
  readonly plan: TaskPlan;
  readonly attempt: number;
}

const MAX_BACKOFF_MS = 30_000;

/** Runs every plan and resolves with one result per plan, whatever happened to the tasks. */
export function dispatch(plans: readonly TaskPlan[], runner: TaskRunner, options: DispatchOptions): Promise<Map<string, TaskResult>> {
  return new Dispatch(runner, options).run(plans);
}

class Dispatch {
  readonly #runner: TaskRunner;
  readonly #options: DispatchOptions;
  readonly #queue: TaskQueue<Pending>;
  readonly #results = new Map<string, TaskResult>();
  /** Controllers of the tasks in flight; aborting one kills that task's worker. */
  readonly #running = new Set<AbortController>();
  /** Tasks waiting out a retry backoff, with the result of their last attempt. */
  readonly #backingOff = new Map<NodeJS.Timeout, { pending: Pending; last: TaskResult }>();
  #stopReason: string | undefined;
  #listenerError: unknown;
  #settle: (() => void) | undefined;

  constructor(runner: TaskRunner, options: DispatchOptions) {
    this.#runner = runner;
    this.#options = options;
    this.#queue = new TaskQueue(options.order ?? 'largest-first');
  }

  async run(plans: readonly TaskPlan[]): Promise<Map<string, TaskResult>> {
    const { signal, gpuSlots } = this.#options;
    for (const plan of plans) {
      const gpu = plan.resources.gpuId;
      if (gpu !== null && gpuSlots && gpuSlots.capacity(gpu) < 1) this.#finish(plan, noGpuRoom(plan, gpu), false);
      else this.#queue.push({ plan, attempt: 1 });
    }
    const onAbort = () => this.#cancel(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve) => {
        this.#settle = resolve;
        this.#pump();
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#listenerError !== undefined) throw this.#listenerError;
    return this.#results;
  }

  #emit(event: RunEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (err) {
      // A failing listener must not strand workers mid-run; the run finishes, then rejects with it.
      this.#listenerError ??= err;
    }
  }

  /** Starts queued tasks while there is room, then checks whether the run is over. */
  #pump(): void {
    const slots = this.#options.gpuSlots;
    while (this.#stopReason === undefined && this.#running.size < this.#options.concurrency) {
      const next = this.#queue.pop(slots ? (gpu) => slots.hasFree(gpu) : undefined);
      if (!next) break;
      this.#start(next);
    }
    if (this.#running.size === 0 && this.#queue.size === 0 && this.#backingOff.size === 0) this.#settle?.();
  }

  #start(pending: Pending): void {
    const { plan } = pending;
    const gpu = plan.resources.gpuId;
    this.#options.gpuSlots?.tryAcquire(gpu);
    const controller = new AbortController();
    this.#running.add(controller);
    const { timeoutMs } = this.#options;
    const timer = timeoutMs ? setTimeout(() => controller.abort(new TaskTimeoutError(plan.taskId, timeoutMs)), timeoutMs) : undefined;
    const started = performance.now();

    let handle: RunnerHandle;
    try {
      handle = this.#runner.run(plan, { signal: controller.signal, attempt: pending.attempt });
    } catch (err) {
      handle = { result: Promise.reject(err) };
    }
    this.#emit({ type: 'task:start', taskId: plan.taskId, ...(handle.worker !== undefined ? { worker: handle.worker } : {}) });

    // Whichever comes first decides: the worker's answer, or the signal (then the worker is being
    // killed and a late answer is ignored). Registered after the runner's own abort listener, so the
    // worker is already being killed when the next task is dispatched from here.
    let settled = false;
    const finish = (result: TaskResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
      this.#running.delete(controller);
      this.#options.gpuSlots?.release(gpu);
      this.#completed(pending, { ...result, attempts: pending.attempt });
      this.#pump();
    };
    const onAbort = () => finish(stoppedResult(plan, controller.signal.reason, performance.now() - started));
    controller.signal.addEventListener('abort', onAbort, { once: true });
    handle.result.then(finish, (err: unknown) => finish(faultResult(plan, err, performance.now() - started)));
  }

  #completed(pending: Pending, result: TaskResult): void {
    const { retries = 0, retryOn = ['killed', 'timeout'], retryBackoffMs = 500 } = this.#options;
    if (this.#stopReason === undefined && pending.attempt <= retries && retryOn.includes(result.status)) {
      const delay = Math.min(retryBackoffMs * 2 ** (pending.attempt - 1), MAX_BACKOFF_MS);
      const next = { plan: pending.plan, attempt: pending.attempt + 1 };
      const timer = setTimeout(() => {
        this.#backingOff.delete(timer);
        this.#queue.push(next);
        this.#pump();
      }, delay);
      // Registered before the event goes out: a listener may cancel the run from inside it.
      this.#backingOff.set(timer, { pending: next, last: result });
      this.#emit({ type: 'log', level: 'warn', message: `task ${pending.plan.taskId} ${result.status}: ${result.error?.message ?? ''}; retry ${pending.attempt}/${retries} in ${delay} ms` });
      return;
    }
    this.#finish(pending.plan, result, true);
  }

  #finish(plan: TaskPlan, result: TaskResult, countsForFailFast: boolean): void {
    this.#results.set(plan.taskId, result);
    this.#emit({ type: 'task:done', result });
    if (countsForFailFast && this.#options.failFast && result.status !== 'ok' && this.#stopReason === undefined) {
      this.#stop(`not started: fail-fast after task ${plan.taskId} ended ${result.status}`);
    }
  }

  /** No new starts; every queued task and pending retry ends now. Running tasks are left alone. */
  #stop(reason: string): void {
    this.#stopReason = reason;
    for (const pending of this.#queue.drain()) this.#finish(pending.plan, notStarted(pending.plan, reason), false);
    for (const [timer, { pending, last }] of this.#backingOff) {
      clearTimeout(timer);
      // The last real outcome says more than "cancelled" about a task that was between attempts.
      this.#finish(pending.plan, last, false);
    }
    this.#backingOff.clear();
    this.#emit({ type: 'log', level: 'warn', message: reason });
  }

  /** The run's signal fired: stop dispatching, and kill what runs (each result: cancelled, with the reason as cause). */
  #cancel(reason: unknown): void {
    if (this.#stopReason === undefined) this.#stop(`run cancelled before this task started${reasonSuffix(reason)}`);
    for (const controller of this.#running) controller.abort(new AbortError(reason));
    this.#pump();
  }
}

function reasonSuffix(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  return typeof reason === 'string' ? `: ${reason}` : '';
}

/** The result of a task stopped by its signal: `timeout` for our timer, `cancelled` otherwise. */
function stoppedResult(plan: TaskPlan, reason: unknown, ms: number): TaskResult {
  const timedOut = reason instanceof TaskTimeoutError;
  const error = timedOut || reason instanceof AbortError ? reason : new AbortError(reason);
  return { ...empty(plan, ms), status: timedOut ? 'timeout' : 'cancelled', error: serializeError(error) };
}

/** The runner itself failed (not the task): record it against the task so every plan still gets a result. */
function faultResult(plan: TaskPlan, err: unknown, ms: number): TaskResult {
  return { ...empty(plan, ms), status: 'error', error: serializeError(err) };
}

function noGpuRoom(plan: TaskPlan, gpu: number): TaskResult {
  const error = new ResourceError(`GPU ${gpu} has no free slot for this task (not enough free memory for one task); free memory on it or lower the per-task GPU memory`, { task: plan.taskId, gpu });
  return { ...empty(plan, 0), status: 'error', error: serializeError(error) };
}

function empty(plan: TaskPlan, ms: number): Omit<TaskResult, 'status'> {
  return { taskId: plan.taskId, axis: plan.axis, seconds: ms / 1000, images: plan.inputs.length, outputs: [], measurements: [] };
}

