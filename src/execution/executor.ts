import type { TaskPlan } from '../compiler/plan.js';
import type { TaskResult } from './result.js';

export type RunEvent =
  /** `resumed`: how many of the `tasks` an earlier run finished (reported at once, never dispatched). */
  | { readonly type: 'run:start'; readonly tasks: number; readonly executor: string; readonly resumed?: number }
  | { readonly type: 'task:start'; readonly taskId: string; readonly worker?: number }
  | { readonly type: 'task:done'; readonly result: TaskResult }
  | { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly message: string }
  /**
   * Once per `run()` call, before it resolves: none of its tasks waits in the queue any more (each
   * was handed to a worker, or ended without starting). A caller with more work, such as a batch's
   * next plate, can submit it now so that it fills the workers this run's tail leaves idle.
   * Engines with a first-in-first-out queue of their own (BullMQ) send it once every task is in
   * that queue: what is submitted after waits behind them there.
   * (`task:start` is the hand-over to a worker; the task's timeout starts when it begins there.)
   */
  | { readonly type: 'run:all-started' };

export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: RunEvent) => void;
  /** Stop dispatching (and cancel what waits) after the first task that does not end `ok`. */
  readonly failFast?: boolean;
}

/**
 * Every executor takes frozen plans and returns one result per plan, whatever happens to the
 * tasks: a task's failure is a result, never a rejection. `run` rejects only for a fault of the
 * executor itself.
 */
/** What results.json records about the engine of a run, so a run can be found again (e.g. its BullMQ run id). */
export interface ExecutorDescription {
  readonly kind: string;
  /** Engines with a run of their own outside this process (BullMQ, Slurm) give its id. */
  readonly runId?: string;
  /** Anything else needed to reach that run later, without secrets (queue, Redis host:port, …). */
  readonly details?: Readonly<Record<string, string | number>>;
}

/** What the run knows about its tasks before they start, for executors that size their workers. */
export interface PrepareContext {
  /** RAM one task needs at its peak (inputs, working copies, worker overhead), from the preflight estimate. */
  readonly taskPeakBytes?: number;
}

export interface Executor {
  readonly name: string;
  /**
   * The GPUs plans are compiled for when tasks run on other machines that bring their own (Slurm
   * elements with `--gres=gpu:N`): indices into each worker's devices. Without it, the run's `gpus`.
   */
  readonly planningGpus?: readonly number[];
  /** For results.json; without it, `{ kind: name }` is recorded. */
  describe?(): ExecutorDescription;
  run(plans: readonly TaskPlan[], options?: ExecuteOptions): Promise<Map<string, TaskResult>>;
  /**
   * Starts the workers now and resolves once each has loaded the task code (modules, WASM
   * kernels), so that start-up overlaps discovery and compilation instead of the first tasks.
   * Optional, idempotent and best effort: without it workers start on demand.
   */
  start?(): Promise<void>;
  /**
   * Loads in every worker what these plans need beyond the task code: the Python interpreter of
   * their `py:` steps and the modules those import (seconds for scipy or scikit-image), so no task
   * waits for them. Optional and best effort: without it the first Python step of each worker
   * starts its interpreter.
   */
  prepare?(plans: readonly TaskPlan[], context?: PrepareContext): Promise<void>;
  /** Idempotent; `force` terminates running work instead of waiting for it. */
  close(options?: { force?: boolean }): Promise<void>;
}

/** The result recorded for a task that never started because the run was cancelled or failed fast. */
export function notStarted(plan: TaskPlan, reason: string): TaskResult {
  return {
    taskId: plan.taskId,
    axis: plan.axis,
    status: 'cancelled',
    error: { name: 'AbortError', code: 'E_ABORTED', message: reason },
    seconds: 0,
    images: plan.inputs.length,
    outputs: [],
    measurements: [],
  };
}
