/**
 * Errors an executor records in a task's result (never throws at the caller for them), plus the
 * one it throws for its own misuse. Each carries structured context so reports and retry logic
 * branch on fields, not on message text.
 */
import { PlateflowError } from '../../errors.js';
import { formatDuration } from '../resources/units.js';

/**
 * Why a worker died under a task. `oom-kill`: a SIGKILL while the cgroup's OOM-kill count rose (the
 * kernel's out-of-memory killer); `signal`: any other signal we did not send, SIGKILL included when
 * there is no such evidence; `heap-oom`: V8's heap limit; `memory-limit`: over `--worker-memory`.
 */
export type KillReason = 'exit' | 'signal' | 'oom-kill' | 'heap-oom' | 'memory-limit' | 'thread-exit' | 'spawn-failed';

export interface KillDetails {
  readonly reason: KillReason;
  readonly pid?: number;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly memoryLimitBytes?: number;
  readonly rssBytes?: number;
  /** The end of the worker's stderr, when it printed anything: usually says why it died. */
  readonly stderr?: string;
  /** The cgroup file whose OOM-kill count was read to tell an OOM kill from another SIGKILL. */
  readonly oomKillCounter?: string;
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
    super('E_TASK_TIMEOUT', `timed out after ${formatDuration(timeoutMs)}`, { task, timeoutMs });
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
