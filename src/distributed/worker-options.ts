/**
 * What `plateflow worker` / {@link startWorker} callers pass, what the worker reports, and the
 * filled-in options it runs with (defaults in one place, one message per bad value).
 */
import os from 'node:os';
import { ConfigError } from '../errors.js';
import { availableCpus } from '../execution/resources/cpus.js';
import type { TaskStatus } from '../execution/result.js';
import { defaultPython } from '../python/interpreter.js';
import type { RedisInput } from './connection.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, assertQueueName } from './names.js';

export interface WorkerOptions {
  /** Redis URL (`redis://:password@host:6379/0`), ioredis options, or a client to borrow. */
  readonly redis: RedisInput;
  /** Directories plans may name (plate, outputs, user modules); anything else is refused. Required. */
  readonly roots: readonly string[];
  /** @default 'tasks' */
  readonly queue?: string;
  /** @default 'plateflow' */
  readonly prefix?: string;
  /** Tasks run at once, each in its own child process. @default available CPUs (cgroup / Slurm aware) */
  readonly concurrency?: number;
  /** Shown in results and `plateflow status`. @default `<hostname>:<pid>` */
  readonly name?: string;
  /**
   * How long a job stays ours without a lock renewal. When a worker dies, its jobs go back to the
   * queue this long (plus up to two `stalledIntervalMs`) later. @default 30_000
   */
  readonly lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died. @default lockDurationMs */
  readonly stalledIntervalMs?: number;
  /**
   * Fail a job `killed` once the workers running it were lost more than this many times.
   * @default no limit
   *
   * Why none by default: tasks run in their own child processes, so a task that crashes takes only
   * its child and uses one of its attempts (the executor's `attempts`); a lost worker (SIGKILL, a
   * drained or preempted node) is not its job's fault. Any limit fails healthy tasks under churn,
   * and the same few most of all: BullMQ puts a stalled job at the head of the queue, so it goes to
   * the next free slot, often a worker that has just started and is as likely as any to be lost
   * next (the first 4 jobs of `bench:bullmq`'s soak were lost 6 times this way without ever
   * running). Set a limit only to stop a job suspected of killing whole workers, knowing that it
   * counts honest worker losses too.
   */
  readonly maxStalledCount?: number;
  /** Time limit for tasks whose run set none. @default none */
  readonly defaultTimeoutMs?: number;
  /** RSS limit per child process; a child over it is killed and its task ends `killed`. @default none */
  readonly workerMemoryBytes?: number;
  /** @default 100 */
  readonly memoryCheckIntervalMs?: number;
  /** Node flags for the child processes, e.g. `--max-old-space-size=4096`. */
  readonly execArgv?: readonly string[];
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the children's stdout/stderr to this process's stderr. @default true */
  readonly forwardOutput?: boolean;
  /** How long a graceful close waits for running tasks before handing them back to the queue. @default 30_000 */
  readonly closeTimeoutMs?: number;
  /** How often running tasks are checked against their run's cancellation (besides pub/sub). @default 2000 */
  readonly cancelCheckIntervalMs?: number;
  /**
   * The interpreter for the plans' `py:` steps. A job names the functions, never the program that
   * runs them: each host has Python in its own place, and a job from Redis must not choose what a
   * worker executes. @default PLATEFLOW_PYTHON, else `python3` on PATH
   */
  readonly python?: string;
  readonly onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { readonly type: 'ready'; readonly name: string; readonly queue: string; readonly redis: string; readonly concurrency: number; readonly roots: readonly string[] }
  | { readonly type: 'task:start'; readonly runId: string; readonly taskId: string; readonly jobId: string; readonly attempt: number }
  | { readonly type: 'task:done'; readonly runId: string; readonly taskId: string; readonly jobId: string; readonly status: TaskStatus; readonly seconds: number; readonly attempt: number; readonly retry: boolean }
  | { readonly type: 'task:refused'; readonly jobId: string; readonly code: string; readonly message: string }
  | { readonly type: 'task:requeued'; readonly jobId: string; readonly reason: string }
  | { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly message: string };

export interface ResolvedWorkerOptions {
  readonly queue: string;
  readonly prefix: string;
  readonly concurrency: number;
  readonly name: string;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  /** {@link NO_STALL_LIMIT} unless the caller set one. */
  readonly maxStalledCount: number;
  readonly defaultTimeoutMs: number | undefined;
  readonly closeTimeoutMs: number;
  readonly cancelCheckIntervalMs: number;
  readonly python: string;
}

/**
 * BullMQ has no "unlimited" stall count: its stalled-job script compares the job's counter with this
 * number, so the largest integer a double holds exactly (and Lua reads back exactly) means never.
 */
export const NO_STALL_LIMIT = Number.MAX_SAFE_INTEGER;

const positiveInt = (name: string, v: number | undefined): void => {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`${name} must be a positive integer, got ${String(v)}`);
};

/** @throws ConfigError E_CONFIG_INVALID naming the option and the bad value */
export function resolveWorkerOptions(o: WorkerOptions): ResolvedWorkerOptions {
  positiveInt('concurrency', o.concurrency);
  positiveInt('lockDurationMs', o.lockDurationMs);
  positiveInt('stalledIntervalMs', o.stalledIntervalMs);
  positiveInt('defaultTimeoutMs', o.defaultTimeoutMs);
  positiveInt('cancelCheckIntervalMs', o.cancelCheckIntervalMs);
  if (o.maxStalledCount !== undefined && (!Number.isInteger(o.maxStalledCount) || o.maxStalledCount < 0)) throw new ConfigError(`maxStalledCount must be an integer ≥ 0, got ${o.maxStalledCount}`);
  const lockDurationMs = o.lockDurationMs ?? 30_000;
  return {
    queue: assertQueueName(o.queue ?? DEFAULT_QUEUE, '--queue'),
    prefix: assertQueueName(o.prefix ?? DEFAULT_PREFIX, 'prefix'),
    concurrency: o.concurrency ?? availableCpus(),
    name: o.name ?? `${os.hostname()}:${process.pid}`,
    lockDurationMs,
    stalledIntervalMs: o.stalledIntervalMs ?? lockDurationMs,
    maxStalledCount: o.maxStalledCount ?? NO_STALL_LIMIT,
    defaultTimeoutMs: o.defaultTimeoutMs,
    closeTimeoutMs: o.closeTimeoutMs ?? 30_000,
    cancelCheckIntervalMs: o.cancelCheckIntervalMs ?? 2000,
    python: o.python ?? defaultPython(),
  };
}

