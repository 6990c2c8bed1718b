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
import { nothingToRun, type BaseExecutor } from './base.js';
import { ExecutorClosedError } from './errors.js';
import { resolveExecutorOptions, type ExecutorKind, type ExecutorOptions, type ResolvedExecutorOptions } from './options.js';
import { ProcessesExecutor, SubprocessExecutor } from './processes.js';
import { SerialExecutor } from './serial.js';
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

/** An engine and how many `run()` calls are on it, so the facade knows when it is idle. */
interface Engine {
  readonly kind: ExecutorKind;
  readonly workers: number;
  readonly executor: BaseExecutor;
  runs: number;
  readonly whenIdle: (() => void)[];
}

/**
 * The facade: one engine at a time, sized for the runs it is given. Runs may overlap (a batch
 * submits the next plate while the previous one finishes); they all go to the one engine, whose
 * dispatcher shares its workers between them. An engine at least as big as a run needs is kept,
 * never swapped for a smaller one. A run that needs a bigger engine (or another kind) waits until
 * the current one is idle, then replaces it, so two pools never compete for the CPUs; runs
 * behind it wait their turn, so they still reach the workers in call order.
 */
class SizedExecutor implements Executor {
  readonly name: ExecutorKind;
  readonly #options: ResolvedExecutorOptions;
  #engine: Engine | undefined;
  /** Settles when the runs waiting for an engine have one; undefined when none waits. */
  #waiting: Promise<void> | undefined;
  /** Replaced engines on their way out, with their close(). */
  readonly #retired = new Map<BaseExecutor, Promise<void>>();
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
    if (plans.length === 0) return nothingToRun(options);
    const choice = chooseExecution(this.name, this.#options, plans);
    for (const message of choice.notes) options.onEvent?.({ type: 'log', level: 'info', message });
    const now = this.#waiting === undefined ? this.#engineNow(choice) : undefined;
    if (now) return this.#runOn(now, plans, options);
    // The hand-over happens inside the turn, so the next waiting run cannot overtake this one.
    const { done } = await this.#inTurn(async () => ({ done: this.#runOn(await this.#engineWhenIdle(choice), plans, options) }));
    return done;
  }

  /** Starts the engine a run with more tasks than workers would get. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ExecutorClosedError(this.name));
    const choice = chooseExecution(this.name, this.#options);
    const now = this.#waiting === undefined ? this.#engineNow(choice) : undefined;
    return now ? now.executor.start() : this.#inTurn(async () => (await this.#engineWhenIdle(choice)).executor.start());
  }

  /** Prepares the engine these plans will run on (see {@link Executor.prepare}); never waits for a busy one. */
  async prepare(plans: readonly TaskPlan[]): Promise<void> {
    if (this.#closing || plans.length === 0) return;
    const now = this.#waiting === undefined ? this.#engineNow(chooseExecution(this.name, this.#options, plans)) : undefined;
    await now?.executor.prepare(plans);
  }

  /**
   * An engine for this choice without waiting: the current one if it is of the right kind and at
   * least as big, else a new one in place of an idle current one; undefined while the current one
   * is busy. While closing, the current engine takes whatever comes: no new pool starts then.
   */
  #engineNow(choice: ExecutionChoice): Engine | undefined {
    const current = this.#engine;
    if (current && ((current.kind === choice.engine && current.workers >= choice.workers) || this.#closing)) return current;
    if (current && current.runs > 0) return undefined;
    if (current) {
      const retiring = current.executor;
      this.#retired.set(retiring, retiring.close().finally(() => this.#retired.delete(retiring)));
    }
    // `cpuBudget` stays as resolved from what was asked: a pool sized down to the tasks leaves
    // the rest of the budget to the tasks' own threads (see dispatch.ts).
    const o = { ...this.#options, workers: choice.workers };
    const executor =
      choice.engine === 'threads'
        ? new ThreadsExecutor(o)
        : choice.engine === 'processes'
          ? new ProcessesExecutor(o)
          : choice.engine === 'subprocess'
            ? new SubprocessExecutor(o)
            : // serial: one worker thread, tasks in the order given (never this thread: it must stay free for Ctrl-C)
              new ThreadsExecutor({ ...o, workers: 1 }, { order: 'given' });
    this.#engine = { kind: choice.engine, workers: choice.workers, executor, runs: 0, whenIdle: [] };
    return this.#engine;
  }

  async #engineWhenIdle(choice: ExecutionChoice): Promise<Engine> {
    for (;;) {
      const now = this.#engineNow(choice);
      if (now) return now;
      const busy = this.#engine!;
      await new Promise<void>((resolve) => busy.whenIdle.push(resolve));
    }
  }

  /** Runs `step` after the steps of the runs already waiting. */
  #inTurn<T>(step: () => Promise<T>): Promise<T> {
    const turn = (this.#waiting ?? Promise.resolve()).then(step);
    const waiting = turn.then(
      () => undefined,
      () => undefined,
    );
    this.#waiting = waiting;
    void waiting.then(() => {
      if (this.#waiting === waiting) this.#waiting = undefined;
    });
    return turn;
  }

  #runOn(engine: Engine, plans: readonly TaskPlan[], options: ExecuteOptions): Promise<Map<string, TaskResult>> {
    engine.runs++;
    return engine.executor.run(plans, options).finally(() => {
      if (--engine.runs === 0) for (const resolve of engine.whenIdle.splice(0)) resolve();
    });
  }

  /** Graceful: accepted runs, including those waiting for an engine, finish first. `force` stops everything now. */
  close(options: { force?: boolean } = {}): Promise<void> {
    // A forced call also escalates a graceful close already under way.
    if (options.force) for (const executor of [this.#engine?.executor, ...this.#retired.keys()]) void executor?.close(options);
    this.#closing ??= (async () => {
      await this.#waiting;
      await Promise.all([this.#engine?.executor.close(options), ...this.#retired.values()]);
    })();
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
