/**
 * `createExecutor(kind, options)`: the executor the CLI and library callers use. It sizes the pool
 * when it sees the tasks (workers = min(tasks, requested, available CPUs, GPU slots when every task
 * needs a GPU)). The engine is always the kind asked for: one useful worker is a pool of one, and
 * no task ever computes in the caller's thread, so a task that crashes, spins or is OOM-killed
 * takes down only its worker, and Ctrl-C is always heard.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TaskPlan } from '../../compiler/plan.js';
import type { ExecuteOptions, Executor } from '../executor.js';
import { GpuSlots, gpuSlotCapacity } from '../resources/gpu-slots.js';
import type { TaskResult } from '../result.js';
import type { BaseExecutor } from './base.js';
import { ExecutorClosedError } from './errors.js';
import { resolveExecutorOptions, type ExecutorKind, type ExecutorOptions, type ResolvedExecutorOptions } from './options.js';
import { ProcessesExecutor, SubprocessExecutor } from './processes.js';
import { SerialExecutor, ThreadSerialExecutor } from './serial.js';
import { THREAD_ENTRY, ThreadsExecutor } from './threads.js';

/** What will run a batch of tasks, and why. */
export interface ExecutionChoice {
  /** Always the kind asked for: the isolation a user names is the isolation they get. */
  readonly engine: ExecutorKind;
  readonly workers: number;
  /** Why the pool is smaller than what was asked, if it is. */
  readonly notes: readonly string[];
}

/**
 * Decides the pool size for these plans. Never a different engine: `processes` with one useful
 * worker is a pool of one process (its task's SIGKILL or OOM must not take plateflow down), and
 * `serial` is one worker thread taking the tasks in the given order (a task stuck in a CPU loop on
 * the caller's thread would leave no thread to hear Ctrl-C or a timeout).
 *
 * `plans` undefined (workers started before the tasks are known) sizes for more tasks than workers.
 */
export function chooseExecution(kind: ExecutorKind, options: ResolvedExecutorOptions, plans?: readonly TaskPlan[]): ExecutionChoice {
  if (kind === 'serial') return { engine: 'serial', workers: 1, notes: [] };
  const notes: string[] = [];
  let workers = Math.min(options.workers, plans?.length ?? Infinity);
  if (options.workers > options.cpus) {
    notes.push(`${options.workers} workers requested, but only ${options.cpus} CPUs are available: using at most ${options.cpus}`);
    workers = Math.min(workers, options.cpus);
  }
  const gpus = (plans ?? []).map((p) => p.resources.gpuId);
  if (gpus.length > 0 && gpus.every((g) => g !== null)) {
    const slots = new GpuSlots(gpuSlotCapacity(options.gpus, options.gpuMemoryPerTaskMiB)).total(gpus as number[]);
    if (slots < workers) {
      notes.push(`every task needs a GPU and the GPUs have ${slots} slot(s): using ${Math.max(1, slots)} worker(s)`);
      workers = Math.max(1, slots);
    }
  }
  return { engine: kind, workers: Math.max(1, workers), notes };
}

/** The facade: one engine at a time, created for the pool size the current batch needs. */
class SizedExecutor implements Executor {
  readonly name: ExecutorKind;
  readonly #options: ResolvedExecutorOptions;
  #engine: { key: string; executor: BaseExecutor } | undefined;
  readonly #retired = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(kind: ExecutorKind, options: ResolvedExecutorOptions) {
    this.name = kind;
    this.#options = options;
  }

  /** Pids of the current engine's worker processes (empty for in-process engines). */
  get pids(): number[] {
    const e = this.#engine?.executor;
    return e instanceof ProcessesExecutor || e instanceof SubprocessExecutor ? e.pids : [];
  }

  async run(plans: readonly TaskPlan[], options: ExecuteOptions = {}): Promise<Map<string, TaskResult>> {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    if (plans.length === 0) return new Map();
    const choice = chooseExecution(this.name, this.#options, plans);
    for (const message of choice.notes) options.onEvent?.({ type: 'log', level: 'info', message });
    return this.#engineFor(choice).run(plans, options);
  }

  /** Starts the engine a run with more tasks than workers would get; a run that needs another size replaces it. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ExecutorClosedError(this.name));
    return this.#engineFor(chooseExecution(this.name, this.#options)).start();
  }

  #engineFor(choice: ExecutionChoice): BaseExecutor {
    const key = `${choice.engine}:${choice.workers}`;
    if (this.#engine?.key === key) return this.#engine.executor;
    if (this.#engine) {
      // A differently sized pool: the old one finishes what it runs, then exits.
      const closing = this.#engine.executor.close();
      this.#retired.add(closing);
      void closing.finally(() => this.#retired.delete(closing));
    }
    const o = { ...this.#options, workers: choice.workers };
    const executor =
      choice.engine === 'threads'
        ? new ThreadsExecutor(o)
        : choice.engine === 'processes'
          ? new ProcessesExecutor(o)
          : choice.engine === 'subprocess'
            ? new SubprocessExecutor(o)
            : new ThreadSerialExecutor(o);
    this.#engine = { key, executor };
    return executor;
  }

  close(options: { force?: boolean } = {}): Promise<void> {
    const engine = this.#engine?.executor;
    if (this.#closing) {
      // A forced call escalates a graceful close already under way.
      if (options.force) void engine?.close(options);
      return this.#closing;
    }
    this.#closing = Promise.all([engine?.close(options), ...[...this.#retired]]).then(() => undefined);
    return this.#closing;
  }
}

/**
 * Creates an executor of the given kind. None computes in the caller's thread (construct a
 * {@link SerialExecutor} for that).
 *
 * @param kind `threads` (default): worker threads, lowest overhead. `processes`: long-lived child
 *   processes, for native code that crashes or leaks. `subprocess`: a fresh process per task, for
 *   hard isolation and per-task memory. `serial`: one task at a time in the order given, in one
 *   worker thread.
 * @throws ConfigError E_CONFIG_INVALID for an invalid option (the message names it and the value)
 */
export function createExecutor(kind: ExecutorKind = 'threads', options: ExecutorOptions = {}): Executor & { readonly name: ExecutorKind; readonly pids: number[]; start(): Promise<void> } {
  return new SizedExecutor(kind, resolveExecutorOptions(options));
}

/**
 * The executor `runPlate` uses when given none: `threads` with workers = available CPUs. Worker
 * threads need the compiled entry file next to this module; when the library runs from its
 * TypeScript sources (a test runner's transform) there is none, so it runs tasks in this thread,
 * one at a time, and says so.
 */
export function defaultExecutor(warn?: (message: string) => void): Executor {
  if (existsSync(fileURLToPath(THREAD_ENTRY))) return createExecutor('threads');
  warn?.('running tasks one at a time in this thread: the compiled worker entry (execution/thread-entry.js) is missing, as when running from TypeScript sources');
  return new SerialExecutor();
}
