/**
 * Worker processes for the `processes` (long-lived, reused) and `subprocess` (one fresh process per
 * task) executors. The dispatcher never has more tasks in flight than workers, so the pool needs no
 * queue of its own: `run` takes an idle worker or forks one.
 *
 * A worker that dies under a task fails only that task (status `killed`, cause from
 * exit-causes.ts) and is dropped; the next task forks its replacement. Workers bound to a GPU are
 * started with CUDA_VISIBLE_DEVICES set, so an idle worker is reused only for a task on its GPU.
 */
import { performance } from 'node:perf_hooks';
import type { TaskPlan } from '../../compiler/plan.js';
import { serializeError } from '../../errors.js';
import type { TaskResult } from '../result.js';
import { ChildWorker, type ChildOutcome } from './child-worker.js';
import type { RunnerHandle } from './dispatch.js';
import { describeChildExit, memoryLimitExceeded, spawnFailed } from './exit-causes.js';

export interface ProcessPoolOptions {
  readonly workers: number;
  /** A fresh process per task (exits after its one result). */
  readonly oneShot: boolean;
  readonly execArgv: readonly string[];
  /** Environment for a worker bound to this GPU (null = none). */
  readonly envFor: (gpuId: number | null) => NodeJS.ProcessEnv;
  readonly forwardOutput: boolean;
  /** RSS limit per worker in bytes; checked every `memoryCheckIntervalMs`. */
  readonly memoryLimitBytes: number | undefined;
  readonly memoryCheckIntervalMs: number;
  /** Worker entry file (tests substitute their own). */
  readonly entry?: string;
}

export class ProcessPool {
  readonly #options: ProcessPoolOptions;
  /** Idle, reusable workers; never more than `workers`, so linear scans are cheap. */
  readonly #idle: ChildWorker[] = [];
  readonly #busy = new Set<ChildWorker>();
  /** Retired or killed workers that have not exited yet: close() waits for them too. */
  readonly #leaving = new Set<ChildWorker>();
  #watchdog: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ProcessPoolOptions) {
    this.#options = options;
  }

  /** Pids of the live workers (busy, idle, or on their way out). */
  get pids(): number[] {
    return [...this.#idle, ...this.#busy, ...this.#leaving].map((w) => w.pid).filter((p): p is number => p !== undefined);
  }

  /**
   * Forks the long-lived workers now and resolves when each has loaded the task code. One-shot
   * pools start nothing: a fresh process per task is what they are for.
   */
  async start(): Promise<void> {
    if (this.#options.oneShot || this.#closed) return;
    while (this.#idle.length + this.#busy.size < this.#options.workers) this.#idle.push(this.#spawn(null));
    await Promise.all(this.#idle.map((w) => w.ready));
  }

  /** `threads`: compute threads the task may use, sent with the plan (see `Attempt.threads`). */
  run(plan: TaskPlan, signal: AbortSignal, threads = 1): RunnerHandle {
    const worker = this.#take(plan.resources.gpuId);
    this.#busy.add(worker);
    this.#startWatchdog();
    const started = performance.now();
    const onAbort = () => this.#discard(worker, { kind: 'stopped' });
    signal.addEventListener('abort', onAbort, { once: true });
    const task = worker.run(plan, threads);
    const result = task.outcome.then((outcome) => {
      signal.removeEventListener('abort', onAbort);
      this.#busy.delete(worker);
      return this.#settle(plan, worker, outcome, (performance.now() - started) / 1000);
    });
    if (signal.aborted) onAbort();
    return { ...(worker.pid !== undefined ? { worker: worker.pid } : {}), started: task.started, result };
  }

  #settle(plan: TaskPlan, worker: ChildWorker, outcome: ChildOutcome, seconds: number): TaskResult {
    if (outcome.kind === 'died') {
      this.#leaving.delete(worker);
      const { exit, killedFor } = outcome;
      const error =
        killedFor?.kind === 'memory-limit'
          ? memoryLimitExceeded(plan.taskId, worker.pid, killedFor.rssBytes, killedFor.limitBytes)
          : worker.pid === undefined
            ? spawnFailed(plan.taskId, new Error(exit.stderrTail.trim() || 'fork failed'))
            : describeChildExit(plan.taskId, exit);
      const peak = outcome.sampledPeakRss > 0 ? { peakRssBytes: outcome.sampledPeakRss } : {};
      return { taskId: plan.taskId, axis: plan.axis, status: 'killed', error: serializeError(error), seconds, images: plan.inputs.length, outputs: [], measurements: [], ...peak };
    }
    this.#release(worker);
    if (outcome.kind === 'error') {
      return { taskId: plan.taskId, axis: plan.axis, status: 'error', error: outcome.error, seconds, images: plan.inputs.length, outputs: [], measurements: [] };
    }
    const peakRssBytes = Math.max(outcome.result.peakRssBytes ?? 0, outcome.sampledPeakRss);
    return { ...outcome.result, ...(peakRssBytes > 0 ? { peakRssBytes } : {}) };
  }

  /** An idle worker for this GPU, else a new one; an idle worker bound to another GPU makes room. */
  #take(gpuId: number | null): ChildWorker {
    if (!this.#options.oneShot) {
      // A worker can die while idle (OOM killer, a stray timer in user code): drop it.
      for (let i = this.#idle.length - 1; i >= 0; i--) if (!this.#idle[i]!.alive) this.#idle.splice(i, 1);
      const i = this.#idle.findIndex((w) => w.gpuId === gpuId && w.alive);
      if (i >= 0) return this.#idle.splice(i, 1)[0]!;
      if (this.#idle.length > 0 && this.#idle.length + this.#busy.size >= this.#options.workers) this.#retire(this.#idle.pop()!);
    }
    return this.#spawn(gpuId);
  }

  #spawn(gpuId: number | null): ChildWorker {
    const o = this.#options;
    return new ChildWorker({
      ...(o.entry ? { entry: o.entry } : {}),
      execArgv: o.execArgv,
      env: o.envFor(gpuId),
      forwardOutput: o.forwardOutput,
      gpuId,
      progressMs: o.memoryLimitBytes !== undefined ? o.memoryCheckIntervalMs : 0,
    });
  }

  #release(worker: ChildWorker): void {
    if (!this.#options.oneShot && !this.#closed && worker.alive) this.#idle.push(worker);
    else this.#retire(worker);
  }

  #retire(worker: ChildWorker): void {
    this.#leaving.add(worker);
    void worker.exited.then(() => this.#leaving.delete(worker));
    worker.retire();
  }

  /** Kill a worker now (its task is being stopped, or it went over the memory limit). */
  #discard(worker: ChildWorker, cause: Parameters<ChildWorker['kill']>[0]): void {
    if (this.#busy.delete(worker)) {
      this.#leaving.add(worker);
      void worker.exited.then(() => this.#leaving.delete(worker));
    }
    worker.kill(cause);
  }

  #startWatchdog(): void {
    const limit = this.#options.memoryLimitBytes;
    if (limit === undefined || this.#watchdog) return;
    this.#watchdog = setInterval(() => {
      for (const worker of this.#busy) {
        const rss = worker.sampleRss();
        if (rss !== undefined && rss > limit) this.#discard(worker, { kind: 'memory-limit', rssBytes: rss, limitBytes: limit });
      }
    }, this.#options.memoryCheckIntervalMs);
    // The watchdog alone must not keep a finished run's process alive.
    this.#watchdog.unref();
  }

  /**
   * Idle workers are asked to exit; any still alive when `timeoutMs` passes or `force` fires is
   * killed. Resolves only when every worker this pool started has exited.
   */
  async close(force: AbortSignal, timeoutMs: number): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const worker of this.#idle.splice(0)) this.#retire(worker);
    const all = [...this.#busy, ...this.#leaving];
    const exited = Promise.all(all.map((w) => w.exited));
    const killAll = () => {
      for (const w of all) w.kill({ kind: 'stopped' });
    };
    if (force.aborted) killAll();
    else {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        force.addEventListener('abort', () => resolve(), { once: true });
      });
      await Promise.race([exited, deadline]);
      clearTimeout(timer);
      killAll();
    }
    await exited;
  }
}
