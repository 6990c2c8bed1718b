/**
 * The IPC messages between a process worker and its parent, as one discriminated union each way.
 * Sent with `serialization: 'advanced'` (V8 structured clone), so typed arrays and Maps survive.
 */
import type { TaskPlan } from '../../compiler/plan.js';
import type { SerializedError } from '../../errors.js';
import type { TaskResult } from '../result.js';

/** `threads`: compute threads the task may use (see `Attempt.threads`). */
export type ParentMessage = { readonly type: 'run'; readonly id: number; readonly plan: TaskPlan; readonly threads: number };

export type ChildMessage =
  /** Sent once, when the worker has loaded the task code and can take a plan without delay. */
  | { readonly type: 'ready' }
  /** The task with this id begins now (the worker's start-up is over): its timeout counts from here. */
  | { readonly type: 'started'; readonly id: number }
  /** The task's outcome (ok, error, cancelled…) as `runTask` reported it. */
  | { readonly type: 'result'; readonly id: number; readonly result: TaskResult }
  /** The worker itself failed around the task (a bug, not a task failure); the worker stays usable. */
  | { readonly type: 'error'; readonly id: number; readonly error: SerializedError }
  /** Heartbeat while a task runs: lets the parent watch memory where /proc is not readable. */
  | { readonly type: 'progress'; readonly id: number; readonly rssBytes: number };

/** Env var telling the child how often to send `progress` (ms); set by the parent. */
export const PROGRESS_ENV = 'PLATEFLOW_WORKER_PROGRESS_MS';

export function isChildMessage(value: unknown): value is ChildMessage {
  const type = (value as { type?: unknown } | null)?.type;
  if (type === 'ready') return true;
  return typeof value === 'object' && value !== null && (type === 'started' || type === 'result' || type === 'error' || type === 'progress') && typeof (value as { id?: unknown }).id === 'number';
}
