/**
 * Errors of distributed runs. Task outcomes still travel as results; these name what BullMQ and
 * Redis add: a job that failed in BullMQ itself, a run id with no record, and the signal a worker
 * gives BullMQ that an attempt should be retried.
 */
import { PlateflowError } from '../errors.js';
import type { TaskResult } from '../execution/result.js';

/**
 * Thrown by a worker's job processor when a task ended with a retryable status (`killed`,
 * `timeout` by default) and attempts remain: BullMQ then schedules the next attempt with backoff.
 * The last attempt's result is returned instead, so the run records it.
 */
export class RetryableTaskError extends Error {
  readonly result: TaskResult;

  constructor(result: TaskResult, attempt: number, attempts: number) {
    super(`task ${result.taskId} ended ${result.status} (attempt ${attempt} of ${attempts}): ${result.error?.message ?? 'no detail'}`);
    this.name = 'RetryableTaskError';
    this.result = result;
  }
}

/**
 * BullMQ gave up on a job without a result from plateflow: the workers that took it were lost
 * more often than a stall limit the workers were given (`--max-stalled`; none by default), or the
 * worker's processor itself failed. Status `killed` when a worker was lost, else `error`.
 */
export class JobFailedError extends PlateflowError {
  constructor(task: string, jobId: string, failedReason: string, stalls: number) {
    const what = stalls > 0 ? `the workers running it were lost ${stalls} time(s)` : 'the worker could not run it';
    super(stalls > 0 ? 'E_TASK_KILLED' : 'E_STEP_FAILED', `job ${jobId} failed in BullMQ: ${what} (${failedReason || 'no reason given'})`, { task, jobId, stalls });
    this.name = 'JobFailedError';
  }
}

/** A run id with no record in this Redis queue (wrong id, queue or prefix, or its records expired). */
export class RunNotFoundError extends PlateflowError {
  constructor(runId: string, where: string) {
    super('E_NOT_FOUND', `no run "${runId}" in ${where} (check --queue and --redis; run records expire 7 days after their last change)`, { runId });
    this.name = 'RunNotFoundError';
  }
}

/**
 * A path given to `plateflow status` that does not lead to a BullMQ run: no results.json there
 * (E_NOT_FOUND), or one that does not parse or records a run of another executor (E_CONFIG_INVALID).
 */
export class RunRecordError extends PlateflowError {
  constructor(code: 'E_NOT_FOUND' | 'E_CONFIG_INVALID', message: string, file: string) {
    super(code, message, { file });
    this.name = 'RunRecordError';
  }
}
