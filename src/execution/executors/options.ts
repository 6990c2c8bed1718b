/**
 * What callers pass to {@link createExecutor} and the filled-in form the executors read. The CLI
 * flags map one-to-one onto these fields, and both go through {@link resolveExecutorOptions}, so
 * a bad value gets the same message from either door.
 */
import { ConfigError } from '../../errors.js';
import { availableCpus } from '../resources/cpus.js';
import type { GpuInfo } from '../resources/gpus.js';

export const EXECUTOR_KINDS = ['threads', 'processes', 'subprocess', 'serial'] as const;
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];

export interface ExecutorOptions {
  /**
   * Upper bound on workers. The pool uses min(this, tasks, available CPUs, GPU slots when every
   * task needs a GPU). @default available CPUs (cgroup / Slurm aware, see `plateflow resources`)
   */
  readonly workers?: number;
  /** Per-task wall-clock limit in ms; the task's worker is killed when it passes. @default none */
  readonly timeoutMs?: number;
  /** Extra attempts for tasks that end `killed` or `timeout`. @default 0 */
  readonly retries?: number;
  /** Also retry tasks that end `error` (an exception in a step). @default false */
  readonly retryErrors?: boolean;
  /** First retry delay in ms, doubling per attempt (max 30 s). @default 500 */
  readonly retryBackoffMs?: number;
  /**
   * Memory per worker in bytes: the V8 heap limit of each thread (`threads`), or an RSS limit
   * checked every `memoryCheckIntervalMs` (`processes`, `subprocess`); a worker over it is killed
   * and its task ends `killed` with "exceeded memory limit". @default none
   */
  readonly workerMemoryBytes?: number;
  /** @default 100 */
  readonly memoryCheckIntervalMs?: number;
  /** CPUs to plan for instead of probing (tests, or a scheduler that knows better). */
  readonly cpus?: number;
  /** GPUs from {@link probeGpus}; tasks bound to a GPU take one of its slots while they run. */
  readonly gpus?: readonly GpuInfo[];
  /** GPU memory one task needs, in MiB: slots per GPU = free memory ÷ this. @default one task per GPU */
  readonly gpuMemoryPerTaskMiB?: number;
  /** Extra Node flags for child workers (`processes`, `subprocess`), e.g. `--max-old-space-size=4096`. */
  readonly execArgv?: readonly string[];
  /** Base environment for child workers. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy child workers' stdout and stderr to this process's stderr (stdout stays clean for `--json`). @default true */
  readonly forwardOutput?: boolean;
  /** How long a graceful `close()` waits for workers to exit before killing them. @default 10_000 */
  readonly closeTimeoutMs?: number;
}

export interface ResolvedExecutorOptions {
  readonly workers: number;
  readonly cpus: number;
  /**
   * Compute threads all tasks in flight may use together: min(requested workers, CPUs). A task
   * started when no other task waits may use what the others leave of it (see dispatch.ts).
   */
  readonly cpuBudget: number;
  readonly timeoutMs: number | undefined;
  readonly retries: number;
  readonly retryErrors: boolean;
  readonly retryBackoffMs: number;
  readonly workerMemoryBytes: number | undefined;
  readonly memoryCheckIntervalMs: number;
  readonly gpus: readonly GpuInfo[];
  readonly gpuMemoryPerTaskMiB: number | undefined;
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly forwardOutput: boolean;
  readonly closeTimeoutMs: number;
}

/** @throws ConfigError E_CONFIG_INVALID naming the option and the bad value */
export function resolveExecutorOptions(options: ExecutorOptions = {}): ResolvedExecutorOptions {
  const cpus = options.cpus ?? availableCpus();
  positiveInt('cpus', cpus);
  if (options.workers !== undefined) positiveInt('workers', options.workers);
  if (options.timeoutMs !== undefined) positive('timeoutMs', options.timeoutMs);
  if (options.retries !== undefined) nonNegativeInt('retries', options.retries);
  if (options.retryBackoffMs !== undefined) nonNegative('retryBackoffMs', options.retryBackoffMs);
  if (options.workerMemoryBytes !== undefined && !(options.workerMemoryBytes >= 1024 * 1024)) {
    throw new ConfigError(`workerMemoryBytes must be at least 1 MiB, got ${String(options.workerMemoryBytes)}`);
  }
  if (options.memoryCheckIntervalMs !== undefined) positive('memoryCheckIntervalMs', options.memoryCheckIntervalMs);
  if (options.gpuMemoryPerTaskMiB !== undefined) positive('gpuMemoryPerTaskMiB', options.gpuMemoryPerTaskMiB);
  if (options.closeTimeoutMs !== undefined) nonNegative('closeTimeoutMs', options.closeTimeoutMs);
  return {
    workers: options.workers ?? cpus,
    cpus,
    cpuBudget: Math.min(options.workers ?? cpus, cpus),
    timeoutMs: options.timeoutMs,
    retries: options.retries ?? 0,
    retryErrors: options.retryErrors ?? false,
    retryBackoffMs: options.retryBackoffMs ?? 500,
    workerMemoryBytes: options.workerMemoryBytes,
    memoryCheckIntervalMs: options.memoryCheckIntervalMs ?? 100,
    gpus: options.gpus ?? [],
    gpuMemoryPerTaskMiB: options.gpuMemoryPerTaskMiB,
    execArgv: options.execArgv ?? [],
    env: options.env ?? process.env,
    forwardOutput: options.forwardOutput ?? true,
    closeTimeoutMs: options.closeTimeoutMs ?? 10_000,
  };
}

export function isExecutorKind(value: string): value is ExecutorKind {
  return (EXECUTOR_KINDS as readonly string[]).includes(value);
}

function describe(value: unknown): string {
  return `${typeof value === 'string' ? JSON.stringify(value) : String(value)} (${typeof value})`;
}

function positiveInt(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1) throw new ConfigError(`${name} must be a positive integer, got ${describe(value)}`);
}

function nonNegativeInt(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 0) throw new ConfigError(`${name} must be an integer ≥ 0, got ${describe(value)}`);
}

function positive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new ConfigError(`${name} must be a positive number, got ${describe(value)}`);
}

function nonNegative(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new ConfigError(`${name} must be a number ≥ 0, got ${describe(value)}`);
}
