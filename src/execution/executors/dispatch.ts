/**
 * The dispatch engine every executor shares: one queue, at most `concurrency` tasks in flight,
 * per-task timeouts, run-level cancellation, retries with backoff, fail-fast and GPU slots. An
 * executor only supplies a {@link TaskRunner} that knows how to run one plan on one of its
 * workers and how to kill that worker when asked.
 *
 * One {@link Dispatcher} serves every `run()` call of its executor, so runs that overlap (a batch
 * starting the next plate while the last tasks of the previous one still run) share one worker
 * budget and one queue: an earlier call's tasks start before a later call's, and each call keeps
 * its own signal, fail-fast, retries, results and events. Nothing waits in a worker pool's own
 * queue, where time spent waiting would look like time spent running.
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
import { ompThreadCap } from '../resources/env-limits.js';
import { GpuSlots, gpuSlotCapacity } from '../resources/gpu-slots.js';
import type { TaskResult, TaskStatus } from '../result.js';
import { TaskQueue, type QueueOrder } from '../scheduler.js';
import { ResourceError, TaskKilledError, TaskTimeoutError } from './errors.js';
import { spawnFailed } from './exit-causes.js';
import type { ResolvedExecutorOptions } from './options.js';

export interface Attempt {
  /** Fires when the task must stop now (timeout, run cancelled, executor force-closed): kill its worker. */
  readonly signal: AbortSignal;
  /** 1 for the first try. */
  readonly attempt: number;
  /**
   * Compute threads the task may use, its own included (`FunctionContext.threads`). 1 unless the
   * dispatcher has a `cpuBudget` and no other task waits: then the part of the budget the tasks in
   * flight leave free, so cores a short run (or a run's last task) would leave idle go to it.
   */
  readonly threads: number;
}

export interface RunnerHandle {
  /** Pid or thread id of the worker that took the task, when known (for the `task:start` event). */
  readonly worker?: number;
  /**
   * Resolves when the task begins in its worker, after that worker's start-up (thread or process
   * start, loading the task code and WASM kernels). The timeout counts from here. Without it the
   * task is taken to begin when handed over (in-process runners).
   */
  readonly started?: Promise<void>;
  /**
   * The task's own outcome, including worker deaths as `killed` results. It may reject only for a
   * fault of the executor; after the attempt's signal fired, whatever it settles to is ignored.
   */
  readonly result: Promise<TaskResult>;
}

export interface TaskRunner {
  run(plan: TaskPlan, attempt: Attempt): RunnerHandle;
}

/** What belongs to the workers, shared by every run of one {@link Dispatcher}. */
export interface DispatcherOptions {
  readonly concurrency: number;
  /** @default 'largest-first' (within one run; earlier runs always go first) */
  readonly order?: QueueOrder;
  readonly gpuSlots?: GpuSlots;
  /**
   * How long a worker may take to begin a task it was handed (see {@link RunnerHandle.started});
   * past it the worker is killed and the task ends `killed` ("worker could not start"), so a
   * worker that never comes up cannot hang a run. @default 60_000
   */
  readonly startupTimeoutMs?: number;
  /**
   * Compute threads the tasks in flight may use together; none start beyond it, so a task given
   * extra threads holds them back from a later run's tasks until it ends. Undefined: every task
   * gets 1 thread and only `concurrency` limits starts.
   */
  readonly cpuBudget?: number;
  /** The most threads one task may get. @default no limit beyond the budget */
  readonly maxTaskThreads?: number;
}

/** What each `run()` call decides for itself. */
export interface RunPolicy extends ExecuteOptions {
  /** Per-task wall-clock limit from the task's start in its worker; the worker is killed when it passes. */
  readonly timeoutMs?: number;
  /** Extra attempts for a task whose result status is in `retryOn`. @default 0 */
  readonly retries?: number;
  /** @default ['killed', 'timeout']: a crash or hang may be transient, an exception usually is not */
  readonly retryOn?: readonly TaskStatus[];
  /** First retry delay; doubles per attempt, capped at 30 s. @default 500 */
  readonly retryBackoffMs?: number;
}

export interface DispatchOptions extends DispatcherOptions, RunPolicy {}

/** The dispatcher of an executor with these resolved options: one per executor, shared by its runs. */
export function executorDispatcher(o: ResolvedExecutorOptions, runner: TaskRunner, order: QueueOrder = 'largest-first'): Dispatcher {
  return new Dispatcher(runner, {
    concurrency: o.workers,
    order,
    gpuSlots: new GpuSlots(gpuSlotCapacity(o.gpus, o.gpuMemoryPerTaskMiB)),
    cpuBudget: o.cpuBudget,
    maxTaskThreads: ompThreadCap(o.env),
  });
}

/** The run policy that follows from an executor's resolved options: timeout and retries. */
export function runPolicy(o: ResolvedExecutorOptions): Omit<RunPolicy, keyof ExecuteOptions> {
  return {
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    retries: o.retries,
    retryBackoffMs: o.retryBackoffMs,
    retryOn: o.retryErrors ? ['killed', 'timeout', 'error'] : ['killed', 'timeout'],
  };
}

/** One `run()` call in progress. Its tasks are counted here wherever they are: queued, running, or backing off. */
interface RunState {
  readonly rank: number;
  readonly policy: RunPolicy;
  readonly results: Map<string, TaskResult>;
  /** Controllers of this run's tasks in flight; aborting one kills that task's worker. */
  readonly running: Set<AbortController>;
  /** Tasks waiting out a retry backoff, with the result of their last attempt. */
  readonly backingOff: Map<NodeJS.Timeout, { pending: Pending; last: TaskResult }>;
  queued: number;
  allStarted: boolean;
  stopReason: string | undefined;
  listenerError: unknown;
  settle: () => void;
}

interface Pending {
  readonly plan: TaskPlan;
  readonly attempt: number;
  readonly run: RunState;
}

const MAX_BACKOFF_MS = 30_000;
const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;

/** Runs every plan on a dispatcher of its own and resolves with one result per plan, whatever happened to the tasks. */
export function dispatch(plans: readonly TaskPlan[], runner: TaskRunner, options: DispatchOptions): Promise<Map<string, TaskResult>> {
  return new Dispatcher(runner, options).run(plans, options);
}

export class Dispatcher {
  readonly #runner: TaskRunner;
  readonly #options: DispatcherOptions;
  readonly #queue: TaskQueue<Pending>;
  /** Runs not yet settled, in call order. */
  readonly #runs = new Set<RunState>();
  #inFlight = 0;
  /** Threads held by the tasks in flight (the sum of their `Attempt.threads`). */
  #threadsHeld = 0;
  #nextRank = 0;

  constructor(runner: TaskRunner, options: DispatcherOptions) {
    this.#runner = runner;
    this.#options = options;
    this.#queue = new TaskQueue(options.order ?? 'largest-first');
  }

  /** Resolves with one result per plan; rejects only with an error thrown by the run's own event listener. */
  async run(plans: readonly TaskPlan[], policy: RunPolicy): Promise<Map<string, TaskResult>> {
    const { signal } = policy;
    const { gpuSlots } = this.#options;
    let settle!: () => void;
    const over = new Promise<void>((resolve) => (settle = resolve));
    const run: RunState = { rank: this.#nextRank++, policy, results: new Map(), running: new Set(), backingOff: new Map(), queued: 0, allStarted: false, stopReason: undefined, listenerError: undefined, settle };
    this.#runs.add(run);
    for (const plan of plans) {
      const gpu = plan.resources.gpuId;
      if (gpu !== null && gpuSlots && gpuSlots.capacity(gpu) < 1) this.#finish(run, plan, noGpuRoom(plan, gpu), false);
      else this.#enqueue({ plan, attempt: 1, run });
    }
    const onAbort = () => this.#cancel(run, signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#pump();
      await over;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (run.listenerError !== undefined) throw run.listenerError;
    return run.results;
  }

  #enqueue(pending: Pending): void {
    pending.run.queued++;
    this.#queue.push(pending, pending.run.rank);
  }

  #emit(run: RunState, event: RunEvent): void {
    try {
      run.policy.onEvent?.(event);
    } catch (err) {
      // A failing listener must not strand workers mid-run; the run finishes, then rejects with it.
      run.listenerError ??= err;
    }
  }

  /** Starts queued tasks while there is room, then tells each run whether it is fully started or over. */
  #pump(): void {
    const slots = this.#options.gpuSlots;
    const budget = this.#options.cpuBudget ?? Number.POSITIVE_INFINITY;
    while (this.#inFlight < this.#options.concurrency && this.#threadsHeld < budget) {
      const next = this.#queue.pop(slots ? (gpu) => slots.hasFree(gpu) : undefined);
      if (!next) break;
      this.#start(next);
    }
    // A snapshot: a listener may start another run from inside these events.
    for (const run of [...this.#runs]) {
      if (!run.allStarted && run.queued === 0) {
        run.allStarted = true;
        this.#emit(run, { type: 'run:all-started' });
      }
      if (run.running.size === 0 && run.queued === 0 && run.backingOff.size === 0 && this.#runs.delete(run)) run.settle();
    }
  }

  #start(pending: Pending): void {
    const { plan, run } = pending;
    run.queued--;
    this.#inFlight++;
    const gpu = plan.resources.gpuId;
    this.#options.gpuSlots?.tryAcquire(gpu);
    const threads = this.#threadsFor();
    this.#threadsHeld += threads;
    const controller = new AbortController();
    run.running.add(controller);

    let handle: RunnerHandle;
    try {
      handle = this.#runner.run(plan, { signal: controller.signal, attempt: pending.attempt, threads });
    } catch (err) {
      handle = { result: Promise.reject(err) };
    }
    this.#emit(run, { type: 'task:start', taskId: plan.taskId, ...(handle.worker !== undefined ? { worker: handle.worker } : {}) });

    // The timeout counts from the task's start in its worker; until then only the start-up
    // deadline runs, so a slow worker start-up (a loaded machine, a fresh process) is not charged
    // to the task, and a worker that never starts still cannot hang the run.
    let started = performance.now();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const { timeoutMs } = run.policy;
    const begin = () => {
      if (settled) return;
      clearTimeout(timer);
      started = performance.now();
      if (timeoutMs) timer = setTimeout(() => controller.abort(new TaskTimeoutError(plan.taskId, timeoutMs)), timeoutMs);
    };
    if (handle.started) {
      const startupMs = this.#options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
      timer = setTimeout(() => controller.abort(spawnFailed(plan.taskId, new Error(`it had not begun the task ${startupMs / 1000} s after it was handed over`))), startupMs);
      handle.started.then(begin, () => {});
    } else begin();

    // Whichever comes first decides: the worker's answer, or the signal (then the worker is being
    // killed and a late answer is ignored). Registered after the runner's own abort listener, so the
    // worker is already being killed when the next task is dispatched from here.
    const finish = (result: TaskResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
      run.running.delete(controller);
      this.#inFlight--;
      this.#threadsHeld -= threads;
      this.#options.gpuSlots?.release(gpu);
      this.#completed(pending, { ...result, attempts: pending.attempt });
      this.#pump();
    };
    const onAbort = () => finish(stoppedResult(plan, controller.signal.reason, performance.now() - started));
    controller.signal.addEventListener('abort', onAbort, { once: true });
    handle.result.then(finish, (err: unknown) => finish(faultResult(plan, err, performance.now() - started)));
  }

  /**
   * Threads for the task being started: 1 while others wait (they need the workers), else what the
   * budget has left. Decided once at the start; a task never grows or shrinks while it runs.
   */
  #threadsFor(): number {
    const { cpuBudget, maxTaskThreads = Number.POSITIVE_INFINITY } = this.#options;
    if (cpuBudget === undefined || this.#queue.size > 0) return 1;
    return Math.max(1, Math.min(cpuBudget - this.#threadsHeld, maxTaskThreads));
  }

  #completed(pending: Pending, result: TaskResult): void {
    const { run } = pending;
    const { retries = 0, retryOn = ['killed', 'timeout'], retryBackoffMs = 500 } = run.policy;
    if (run.stopReason === undefined && pending.attempt <= retries && retryOn.includes(result.status)) {
      const delay = Math.min(retryBackoffMs * 2 ** (pending.attempt - 1), MAX_BACKOFF_MS);
      const next = { plan: pending.plan, attempt: pending.attempt + 1, run };
      const timer = setTimeout(() => {
        run.backingOff.delete(timer);
        this.#enqueue(next);
        this.#pump();
      }, delay);
      // Registered before the event goes out: a listener may cancel the run from inside it.
      run.backingOff.set(timer, { pending: next, last: result });
      this.#emit(run, { type: 'log', level: 'warn', message: `task ${pending.plan.taskId} ${result.status}: ${result.error?.message ?? ''}; retry ${pending.attempt}/${retries} in ${delay} ms` });
      return;
    }
    this.#finish(run, pending.plan, result, true);
  }

  #finish(run: RunState, plan: TaskPlan, result: TaskResult, countsForFailFast: boolean): void {
    run.results.set(plan.taskId, result);
    this.#emit(run, { type: 'task:done', result });
    if (countsForFailFast && run.policy.failFast && result.status !== 'ok' && run.stopReason === undefined) {
      this.#stop(run, `not started: fail-fast after task ${plan.taskId} ended ${result.status}`);
    }
  }

  /** No new starts for this run; its queued tasks and pending retries end now. Running tasks are left alone. */
  #stop(run: RunState, reason: string): void {
    run.stopReason = reason;
    const dropped = this.#queue.drain((p) => p.run === run);
    run.queued -= dropped.length;
    for (const pending of dropped) this.#finish(run, pending.plan, notStarted(pending.plan, reason), false);
    for (const [timer, { pending, last }] of run.backingOff) {
      clearTimeout(timer);
      // The last real outcome says more than "cancelled" about a task that was between attempts.
      this.#finish(run, pending.plan, last, false);
    }
    run.backingOff.clear();
    this.#emit(run, { type: 'log', level: 'warn', message: reason });
  }

  /** The run's signal fired: stop dispatching its tasks, and kill those running (each result: cancelled, with the reason as cause). */
  #cancel(run: RunState, reason: unknown): void {
    if (run.stopReason === undefined) this.#stop(run, `run cancelled before this task started${reasonSuffix(reason)}`);
    for (const controller of run.running) controller.abort(new AbortError(reason));
    this.#pump();
  }
}

function reasonSuffix(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  return typeof reason === 'string' ? `: ${reason}` : '';
}

/** The result of a task stopped by its signal: `timeout` for our timer, `killed` for a worker that never started it, `cancelled` otherwise. */
function stoppedResult(plan: TaskPlan, reason: unknown, ms: number): TaskResult {
  const status: TaskStatus = reason instanceof TaskTimeoutError ? 'timeout' : reason instanceof TaskKilledError ? 'killed' : 'cancelled';
  const error = status !== 'cancelled' || reason instanceof AbortError ? reason : new AbortError(reason);
  return { ...empty(plan, ms), status, error: serializeError(error) };
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
