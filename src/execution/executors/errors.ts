/**
 * Errors an executor records in a task's result (never throws at the caller for them), plus the
 * one it throws for its own misuse. Each carries structured context so reports and retry logic
 * branch on fields, not on message text.
 */
import { PlateflowError } from '../../errors.js';

/** Why a worker died under a task. `likely-oom` is a SIGKILL we did not send: on Linux that is almost always the kernel's OOM killer. */
export type KillReason = 'exit' | 'signal' | 'likely-oom' | 'heap-oom' | 'memory-limit' | 'thread-exit' | 'spawn-failed';

export interface KillDetails {
  readonly reason: KillReason;
  readonly pid?: number;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly memoryLimitBytes?: number;
  readonly rssBytes?: number;
  /** The end of the worker's stderr, when it printed anything: usually says why it died. */
  readonly stderr?: string;
}

/** A task's worker died (crash, exit, signal, out of memory) before returning a result. Status `killed`. */
export class TaskKilledError extends PlateflowError {
  readonly reason: KillReason;

  constructor(task: string, message: string, details: KillDetails) {
    super('E_TASK_KILLED', message, { task, ...details });
    this.name = 'TaskKilledError';
    this.reason = details.reason;
  }
}

/** A task ran past its `timeoutMs`; its worker was terminated. Status `timeout`. */
export class TaskTimeoutError extends PlateflowError {
  readonly timeoutMs: number;

  constructor(task: string, timeoutMs: number) {
    super('E_TASK_TIMEOUT', `timed out after ${formatSeconds(timeoutMs)}`, { task, timeoutMs });
    this.name = 'TaskTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** A task cannot run with the resources at hand (e.g. its GPU has no room for even one task). Status `error`. */
export class ResourceError extends PlateflowError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('E_RESOURCE', message, context);
    this.name = 'ResourceError';
  }
}

/** `run()` after `close()`, or the reason running tasks were cancelled by `close({ force: true })`. */
export class ExecutorClosedError extends PlateflowError {
  constructor(executor: string, detail = 'the executor is closed') {
    super('E_ABORTED', `${executor}: ${detail}`, { executor });
    this.name = 'ExecutorClosedError';
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  // 1.5 s, 0.25 s, 30 s: at most two decimals, no trailing zeros.
  return `${Number(s.toFixed(s < 10 ? 2 : 1))} s`;
}
