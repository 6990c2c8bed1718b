/**
 * Names in Redis. One BullMQ queue (default `tasks` under prefix `plateflow`) serves every run, so
 * any worker can take any run's tasks; a run is told apart by its id, which starts every one of
 * its job ids. plateflow's own records of a run live beside the queue's keys:
 *
 * ```
 * <prefix>:<queue>:<runId>/<outHash>/<taskId>      BullMQ job (data = plan, return value = result)
 * <prefix>:<queue>:plateflow-run:<runId>:meta       hash: created, updated, cancelled
 * <prefix>:<queue>:plateflow-run:<runId>:tasks      hash: taskKey → {taskId, jobId, planHash, outputRoot}
 * <prefix>:<queue>:plateflow-run:<runId>:results    hash: taskKey → first recorded result (HSETNX)
 * <prefix>:<queue>:plateflow-run:<runId>:cancelled  set of cancelled taskKeys
 * <prefix>:<queue>:plateflow-cancel                 pub/sub channel: a runId whose tasks were cancelled
 * ```
 *
 * A task's key joins a hash of its output root to its id, because one run may span several
 * plates (a batch) whose task ids (`A01`…) repeat.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

export const DEFAULT_PREFIX = 'plateflow';
export const DEFAULT_QUEUE = 'tasks';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** @throws ConfigError E_CONFIG_INVALID naming `what` and the value */
export function assertRunId(id: string, what = 'run id'): string {
  if (!RUN_ID.test(id)) throw new ConfigError(`${what} must be 1-100 letters, digits, "_", "." or "-" (starting with a letter or digit), got "${id}"`);
  return id;
}

/** @throws ConfigError E_CONFIG_INVALID naming `what` and the value */
export function assertQueueName(name: string, what = 'queue name'): string {
  if (!QUEUE_NAME.test(name)) throw new ConfigError(`${what} must be 1-100 letters, digits, "_", "." or "-", got "${name}"`);
  return name;
}

/** `run-20250131-142501-3f9a1c`: sorts by start time, and unique without coordination. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

export function taskKeyOf(outputRoot: string, taskId: string): string {
  return `${createHash('sha256').update(outputRoot).digest('hex').slice(0, 12)}/${encodeURIComponent(taskId)}`;
}

/** BullMQ job ids may not contain ":" nor be integers; encodeURIComponent in the task key sees to both. */
export function jobIdOf(runId: string, taskKey: string): string {
  return `${runId}/${taskKey}`;
}

export interface RunKeys {
  readonly meta: string;
  readonly tasks: string;
  readonly results: string;
  readonly cancelled: string;
}

export function runKeys(prefix: string, queue: string, runId: string): RunKeys {
  const base = `${prefix}:${queue}:plateflow-run:${runId}`;
  return { meta: `${base}:meta`, tasks: `${base}:tasks`, results: `${base}:results`, cancelled: `${base}:cancelled` };
}

export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:plateflow-cancel`;
}

/** The Redis key of a job's hash (BullMQ's layout: `<prefix>:<queue>:<jobId>`). */
export function jobKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}`;
}
