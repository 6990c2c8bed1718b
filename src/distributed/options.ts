/**
 * What callers pass to the BullMQ executor and the filled-in form it reads (one place for the
 * defaults, one message per bad value, shared by the CLI and the library).
 */
import { ConfigError } from '../errors.js';
import type { TaskStatus } from '../execution/result.js';
import type { RedisInput } from './connection.js';
import { DEFAULT_RETRY_ON } from './job-schema.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, assertQueueName, assertRunId, newRunId } from './names.js';
import { DEFAULT_RUN_TTL_SECONDS } from './run-store.js';

export interface BullmqExecutorOptions {
  /** Redis URL (`redis://[user:password@]host:port/db`, `rediss://` for TLS), ioredis options, or a client to borrow. */
  readonly redis: RedisInput;
  /** The queue the workers listen on. @default 'tasks' */
  readonly queue?: string;
  /** BullMQ key prefix. @default 'plateflow' */
  readonly prefix?: string;
  /**
   * The run's id. Give an earlier run's id to resume it: tasks that ended ok (same plan) are
   * reused, tasks still queued or running are waited for, the rest are enqueued again.
   * @default a new id, `run-<date>-<time>-<random>`
   */
  readonly runId?: string;
  /** Tries per task when it ends with a status in `retryOn` (`killed`, `timeout`). @default 3 */
  readonly attempts?: number;
  /** Also retry tasks that end `error` (an exception in a step). @default false */
  readonly retryErrors?: boolean;
  /** First retry delay; doubles per attempt (BullMQ exponential backoff). @default 1000 */
  readonly retryBackoffMs?: number;
  /** Per-task wall-clock limit, enforced by the worker (which kills the task's child process). @default the worker's */
  readonly timeoutMs?: number;
  /** How often unfinished jobs are checked directly in Redis, in case an event was missed. @default 1000 */
  readonly pollIntervalMs?: number;
  /** After a cancel, how long running tasks get to be stopped by their workers before they are recorded cancelled anyway. @default 10_000 */
  readonly cancelGraceMs?: number;
  /** How long a run's records (and its finished jobs) are kept after its last change. @default 7 days */
  readonly runTtlSeconds?: number;
}

export interface ResolvedBullmqOptions {
  readonly redis: RedisInput;
  readonly queue: string;
  readonly prefix: string;
  readonly runId: string;
  /** The caller named the run: it may have jobs and results in Redis already. */
  readonly resumable: boolean;
  readonly attempts: number;
  readonly retryOn: readonly TaskStatus[];
  readonly retryBackoffMs: number;
  readonly timeoutMs: number | null;
  readonly pollIntervalMs: number;
  readonly cancelGraceMs: number;
  readonly runTtlSeconds: number;
}

/** @throws ConfigError E_CONFIG_INVALID naming the option and the bad value */
export function resolveBullmqOptions(o: BullmqExecutorOptions): ResolvedBullmqOptions {
  if (o.redis === undefined || o.redis === null || o.redis === '') throw new ConfigError('the bullmq executor needs a Redis URL (--redis or PLATEFLOW_REDIS_URL), e.g. redis://127.0.0.1:6379');
  const int = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new ConfigError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  int('attempts', o.attempts, 1);
  int('retryBackoffMs', o.retryBackoffMs, 0);
  int('timeoutMs', o.timeoutMs, 1);
  int('pollIntervalMs', o.pollIntervalMs, 10);
  int('cancelGraceMs', o.cancelGraceMs, 0);
  int('runTtlSeconds', o.runTtlSeconds, 60);
  return {
    redis: o.redis,
    queue: assertQueueName(o.queue ?? DEFAULT_QUEUE, '--queue'),
    prefix: assertQueueName(o.prefix ?? DEFAULT_PREFIX, 'prefix'),
    runId: o.runId === undefined ? newRunId() : assertRunId(o.runId, '--run-id'),
    resumable: o.runId !== undefined,
    attempts: o.attempts ?? 3,
    retryOn: o.retryErrors ? [...DEFAULT_RETRY_ON, 'error'] : DEFAULT_RETRY_ON,
    retryBackoffMs: o.retryBackoffMs ?? 1000,
    timeoutMs: o.timeoutMs ?? null,
    pollIntervalMs: o.pollIntervalMs ?? 1000,
    cancelGraceMs: o.cancelGraceMs ?? 10_000,
    runTtlSeconds: o.runTtlSeconds ?? DEFAULT_RUN_TTL_SECONDS,
  };
}
