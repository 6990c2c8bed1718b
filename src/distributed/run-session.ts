/**
 * One `run()` of the BullMQ executor: enqueue one job per plan, then collect exactly one result per
 * task, whatever the workers do.
 *
 * Results arrive through BullMQ's queue events (fast path) and, as a safety net, by asking Redis
 * directly about unfinished jobs every `pollIntervalMs` (events are a capped stream: a coordinator
 * that falls behind or reconnects could miss some). Either way a task's result is recorded once:
 * the first one wins, in memory and in the run's results hash (HSETNX), so a job that ran twice
 * (its worker was lost after finishing the work) never yields two sets of measurement rows.
 *
 * Cancelling (the caller's signal, fail-fast, a forced close) marks the unfinished tasks cancelled
 * in Redis and tells the workers (pub/sub), removes the jobs still waiting (recorded `cancelled`,
 * not started), and waits up to `cancelGraceMs` for the workers to stop the running ones.
 */
import type { Queue, QueueEvents } from 'bullmq';
import type { TaskPlan } from '../compiler/plan.js';
import { AbortError, ConfigError } from '../errors.js';
import { notStarted, type ExecuteOptions, type RunEvent } from '../execution/executor.js';
import type { TaskResult } from '../execution/result.js';
import { JobFailedError } from './errors.js';
import { JOB_FORMAT_VERSION, decodeJobReturn, encodePlan, type TaskJobData } from './job-schema.js';
import { jobIdOf, taskKeyOf } from './names.js';
import type { ResolvedBullmqOptions } from './options.js';
import type { RunStore, StoredResult } from './run-store.js';
import { failedJobResult, resultWithout } from './session-results.js';

export interface SessionConnections {
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly store: RunStore;
  /** Where Redis is, without secrets (for messages). */
  readonly where: string;
}

interface Task {
  readonly plan: TaskPlan;
  readonly taskKey: string;
  readonly jobId: string;
  readonly planHash: string;
  readonly planText: string;
}

const CHUNK = 500;
/** Waiting, running or between attempts: a job that will still produce a result. */
const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'wait']);
/** How often a job that vanished from Redis is enqueued again before the task is recorded as an error. */
const MAX_REENQUEUE = 3;

export class RunSession {
  readonly #c: SessionConnections;
  readonly #o: ResolvedBullmqOptions;
  readonly #options: ExecuteOptions & { readonly signal: AbortSignal };
  readonly #tasks = new Map<string, Task>();
  readonly #byJob = new Map<string, Task>();
  /** Tasks without a recorded result. */
  readonly #pending = new Set<Task>();
  readonly #started = new Set<Task>();
  readonly #results = new Map<string, TaskResult>();
  readonly #writes: Promise<unknown>[] = [];
  readonly #reenqueued = new Map<Task, number>();
  /** Workers lost while running each task (BullMQ's `stalled` events). */
  readonly #lost = new Map<Task, number>();
  #reconcileCursor = 0;
  #stopReason: string | undefined;
  #listenerError: unknown;
  #settle: (() => void) | undefined;

  constructor(connections: SessionConnections, options: ResolvedBullmqOptions, plans: readonly TaskPlan[], execute: ExecuteOptions & { readonly signal: AbortSignal }) {
    this.#c = connections;
    this.#o = options;
    this.#options = execute;
    for (const plan of plans) {
      const taskKey = taskKeyOf(plan.outputRoot, plan.taskId);
      if (this.#tasks.has(taskKey)) throw new ConfigError(`two plans for task ${plan.taskId} with output root ${plan.outputRoot}`, { task: plan.taskId });
      const { text, hash } = encodePlan(plan);
      const task: Task = { plan, taskKey, jobId: jobIdOf(options.runId, taskKey), planHash: hash, planText: text };
      this.#tasks.set(taskKey, task);
      this.#byJob.set(task.jobId, task);
    }
  }

  async run(): Promise<Map<string, TaskResult>> {
    const { signal } = this.#options;
    if (signal.aborted) {
      for (const task of this.#tasks.values()) this.#results.set(task.plan.taskId, notStarted(task.plan, `run cancelled before this task started${suffix(signal.reason)}`));
      return this.#results;
    }
    for (const task of this.#tasks.values()) this.#pending.add(task);
    const { events } = this.#c;
    const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
      const task = this.#byJob.get(jobId);
      if (task && this.#pending.has(task)) this.#accept(task, returnvalue);
    };
    const onFailed = ({ jobId }: { jobId: string }) => {
      const task = this.#byJob.get(jobId);
      if (task && this.#pending.has(task)) void this.#inspect([task]);
    };
    const onActive = ({ jobId }: { jobId: string }) => {
      const task = this.#byJob.get(jobId);
      if (task && this.#pending.has(task) && !this.#started.has(task)) {
        this.#started.add(task);
        this.#emit({ type: 'task:start', taskId: task.plan.taskId });
      }
    };
    const onDelayed = ({ jobId }: { jobId: string }) => {
      const task = this.#byJob.get(jobId);
      if (task && this.#pending.has(task)) void this.#reportRetry(task);
    };
    // A worker lost under a task: BullMQ puts the job back at the head of the queue (no attempt used).
    const onStalled = ({ jobId }: { jobId: string }) => {
      const task = this.#byJob.get(jobId);
      if (!task || !this.#pending.has(task)) return;
      const n = (this.#lost.get(task) ?? 0) + 1;
      this.#lost.set(task, n);
      this.#emit({ type: 'log', level: 'info', message: `task ${task.plan.taskId}: the worker running it was lost (${n} time(s) so far); it runs again, using none of its attempts` });
    };
    events.on('completed', onCompleted);
    events.on('failed', onFailed);
    events.on('active', onActive);
    events.on('delayed', onDelayed);
    events.on('stalled', onStalled);
    const onAbort = () => void this.#cancel(`run cancelled${suffix(signal.reason)}`);
    let poll: NodeJS.Timeout | undefined;
    try {
      const finished = new Promise<void>((resolve) => {
        this.#settle = resolve;
      });
      await this.#enqueue();
      // Every job is in the queue, which workers take first in, first out: a batch's next plate
      // can be enqueued behind them now.
      this.#emit({ type: 'run:all-started' });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      poll = setInterval(() => void this.#reconcile(), this.#o.pollIntervalMs);
      this.#checkDone();
      await finished;
    } finally {
      clearInterval(poll);
      signal.removeEventListener('abort', onAbort);
      events.off('completed', onCompleted);
      events.off('failed', onFailed);
      events.off('active', onActive);
      events.off('delayed', onDelayed);
      events.off('stalled', onStalled);
      await Promise.allSettled(this.#writes);
      await this.#c.store.touch(this.#o.runId).catch(() => {});
    }
    if (this.#listenerError !== undefined) throw this.#listenerError;
    return this.#results;
  }

  #emit(event: RunEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (err) {
      this.#listenerError ??= err;
    }
  }

  /** Registers the run's tasks, reuses what an earlier attempt of the run finished, and enqueues the rest. */
  async #enqueue(): Promise<void> {
    const { store, queue } = this.#c;
    const runId = this.#o.runId;
    await store.touch(runId, { reopen: true });
    await store.registerTasks(
      runId,
      new Map([...this.#tasks.values()].map((t) => [t.taskKey, { taskId: t.plan.taskId, jobId: t.jobId, planHash: t.planHash, outputRoot: t.plan.outputRoot }])),
    );
    let toEnqueue = [...this.#tasks.values()];
    let reused = 0;
    let attached = 0;
    if (this.#o.resumable) {
      const earlier = await store.readResults(runId);
      const drop: string[] = [];
      const check: Task[] = [];
      for (const task of toEnqueue) {
        const prev = earlier.get(task.taskKey);
        if (prev && prev.planHash === task.planHash && (prev.result.status === 'ok' || prev.result.status === 'skipped')) {
          this.#record(task, { ...prev.result, resumed: prev.result.resumed ?? 'task' }, false);
          reused++;
        } else {
          if (prev) drop.push(task.taskKey);
          check.push(task);
        }
      }
      await store.dropResults(runId, drop);
      // Workers cache cancellations; a resumed run may have lifted some.
      await store.announceCancellations(runId);
      toEnqueue = [];
      for (let i = 0; i < check.length; i += CHUNK) {
        const chunk = check.slice(i, i + CHUNK);
        const states = await Promise.all(chunk.map((t) => queue.getJobState(t.jobId)));
        for (let j = 0; j < chunk.length; j++) {
          const task = chunk[j]!;
          const state = states[j]!;
          if (LIVE_STATES.has(state)) {
            // Still to run (or running) under this id: keep it if it runs this very plan.
            const job = state === 'active' ? undefined : await queue.getJob(task.jobId);
            if (state === 'active' || (job?.data as { planHash?: unknown } | undefined)?.planHash === task.planHash) {
              attached++;
              continue;
            }
            await queue.remove(task.jobId);
            toEnqueue.push(task);
            continue;
          }
          if (state === 'completed') {
            const job = await queue.getJob(task.jobId);
            const done = job ? this.#decode(task, job.returnvalue) : undefined;
            if (done && (done.result.status === 'ok' || done.result.status === 'skipped')) {
              this.#record(task, done.result, true, done.worker);
              reused++;
              continue;
            }
          }
          if (state !== 'unknown') await queue.remove(task.jobId);
          toEnqueue.push(task);
        }
      }
    }
    for (let i = 0; i < toEnqueue.length; i += CHUNK) await queue.addBulk(toEnqueue.slice(i, i + CHUNK).map((t) => this.#jobFor(t)));
    const parts = [`${toEnqueue.length} task(s) queued`];
    if (reused > 0) parts.push(`${reused} finished earlier`);
    if (attached > 0) parts.push(`${attached} already queued or running`);
    this.#emit({ type: 'log', level: 'info', message: `bullmq run ${runId} on queue "${this.#o.queue}" at ${this.#c.where}: ${parts.join(', ')}` });
    if (toEnqueue.length > 0 && (await this.#workerCount()) === 0) {
      this.#emit({ type: 'log', level: 'warn', message: `no worker is listening on queue "${this.#o.queue}" yet; tasks wait until one starts (plateflow worker --redis … --queue ${this.#o.queue})` });
    }
  }

  async #workerCount(): Promise<number> {
    try {
      return (await this.#c.queue.getWorkersCount()) as number;
    } catch {
      return -1;
    }
  }

  #jobFor(task: Task): { name: string; data: TaskJobData; opts: Record<string, unknown> } {
    const age = this.#o.runTtlSeconds;
    return {
      name: 'task',
      data: {
        v: JOB_FORMAT_VERSION,
        runId: this.#o.runId,
        taskKey: task.taskKey,
        taskId: task.plan.taskId,
        planHash: task.planHash,
        plan: task.planText,
        timeoutMs: this.#o.timeoutMs,
        retryOn: [...this.#o.retryOn],
      },
      opts: {
        jobId: task.jobId,
        attempts: this.#o.attempts,
        backoff: { type: 'exponential', delay: this.#o.retryBackoffMs },
        removeOnComplete: { age },
        removeOnFail: { age },
      },
    };
  }

  /**
   * A job's return value as this task's result, or undefined when it belongs to another plan
   * (an earlier run under this id). A refusal carries no plan hash: the worker could not read one.
   */
  #decode(task: Task, returnvalue: unknown): { readonly result: TaskResult; readonly worker: string } | undefined {
    try {
      const { planHash, result, worker } = decodeJobReturn(returnvalue);
      if (planHash !== task.planHash && planHash !== '') return undefined;
      return { result, worker };
    } catch (err) {
      return { result: resultWithout(task.plan, 'error', err), worker: '' };
    }
  }

  #accept(task: Task, returnvalue: unknown): void {
    const decoded = this.#decode(task, returnvalue);
    if (decoded) this.#record(task, decoded.result, true, decoded.worker);
    else void this.#rerunStale(task);
  }

  /** A job of an earlier plan under this run id finished (it was running when the run resumed): run this plan now. */
  async #rerunStale(task: Task): Promise<void> {
    try {
      await this.#c.queue.remove(task.jobId);
      const job = this.#jobFor(task);
      await this.#c.queue.add(job.name, job.data, job.opts);
      this.#warn(`task ${task.plan.taskId}: the job that finished ran an earlier plan; queued again with this one`);
    } catch (err) {
      this.#warn(`task ${task.plan.taskId}: cannot queue it again (${(err as Error).message}); will retry`);
    }
  }

  /** Records a task's one result; later ones for the same task are ignored. */
  #record(task: Task, result: TaskResult, persist: boolean, worker = ''): void {
    if (!this.#pending.delete(task)) return;
    const r: TaskResult = result.taskId === task.plan.taskId ? result : { ...result, taskId: task.plan.taskId };
    this.#results.set(task.plan.taskId, r);
    if (persist) {
      const stored: StoredResult = { planHash: task.planHash, worker, result: r };
      this.#writes.push(this.#c.store.saveResult(this.#o.runId, task.taskKey, stored).catch((err: unknown) => this.#warn(`cannot save the result of task ${task.plan.taskId}: ${(err as Error).message}`)));
    }
    this.#emit({ type: 'task:done', result: r });
    if (this.#options.failFast && r.status !== 'ok' && r.status !== 'skipped' && this.#stopReason === undefined) {
      void this.#cancel(`fail-fast after task ${task.plan.taskId} ended ${r.status}`);
    }
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#pending.size === 0) this.#settle?.();
  }

  #warn(message: string): void {
    this.#emit({ type: 'log', level: 'warn', message });
  }

  /** Asks Redis about some unfinished jobs (round robin), in case their events were missed. */
  async #reconcile(): Promise<void> {
    if (this.#pending.size === 0) return;
    const all = [...this.#pending];
    const start = this.#reconcileCursor % all.length;
    const chunk = all.slice(start, start + CHUNK);
    this.#reconcileCursor = start + chunk.length;
    await this.#inspect(chunk);
  }

  /** Records the result of each of these jobs that has finished; enqueues again one that vanished. */
  async #inspect(tasks: readonly Task[]): Promise<void> {
    const { queue } = this.#c;
    try {
      const states = await Promise.all(tasks.map((t) => queue.getJobState(t.jobId)));
      for (let i = 0; i < tasks.length; i++) {
        const task = tasks[i]!;
        const state = states[i]!;
        if (!this.#pending.has(task) || LIVE_STATES.has(state)) continue;
        if (state === 'unknown') {
          await this.#vanished(task);
          continue;
        }
        const job = await queue.getJob(task.jobId);
        if (!job || !this.#pending.has(task)) continue;
        if (state === 'completed') this.#accept(task, job.returnvalue);
        else if (state === 'failed') this.#record(task, failedJobResult(task.plan, task.jobId, job), true);
      }
    } catch (err) {
      this.#warn(`cannot read job states from Redis (will retry): ${(err as Error).message}`);
    }
  }

  /** A job that is gone from Redis (removed by hand, queue obliterated): enqueue it again, a few times. */
  async #vanished(task: Task): Promise<void> {
    if (this.#stopReason !== undefined) {
      this.#record(task, notStarted(task.plan, `not started: ${this.#stopReason}`), true);
      return;
    }
    const n = (this.#reenqueued.get(task) ?? 0) + 1;
    this.#reenqueued.set(task, n);
    if (n > MAX_REENQUEUE) {
      const error = new JobFailedError(task.plan.taskId, task.jobId, `the job disappeared from Redis ${MAX_REENQUEUE} times`, 0);
      this.#record(task, resultWithout(task.plan, 'error', error), true);
      return;
    }
    this.#warn(`job ${task.jobId} is gone from Redis (removed outside plateflow?); queued again (${n}/${MAX_REENQUEUE})`);
    const job = this.#jobFor(task);
    await this.#c.queue.add(job.name, job.data, job.opts);
  }

  async #reportRetry(task: Task): Promise<void> {
    try {
      const job = await this.#c.queue.getJob(task.jobId);
      this.#warn(`task ${task.plan.taskId}: attempt ${job?.attemptsMade ?? '?'} of ${this.#o.attempts} failed (${job?.failedReason ?? 'no reason'}); retrying with backoff`);
    } catch {
      // Only a log line is lost.
    }
  }

  /**
   * Stops the run: unfinished tasks are marked cancelled in Redis (workers abort the running ones),
   * waiting jobs are removed and recorded as not started, and running ones are recorded when their
   * workers confirm, or `cancelled` after `cancelGraceMs`.
   */
  async #cancel(reason: string): Promise<void> {
    if (this.#stopReason !== undefined) return;
    this.#stopReason = reason;
    this.#warn(reason);
    const { store, queue } = this.#c;
    const pending = [...this.#pending];
    try {
      // Flag first (a worker then starts none of them), remove what still waits, then stop what runs.
      await store.markCancelled(this.#o.runId, pending.map((t) => t.taskKey));
      for (let i = 0; i < pending.length; i += CHUNK) {
        const chunk = pending.slice(i, i + CHUNK);
        const removed = await Promise.all(chunk.map((t) => queue.remove(t.jobId).catch(() => 0)));
        chunk.forEach((task, j) => {
          if (removed[j] === 1) this.#record(task, notStarted(task.plan, `not started: ${reason}`), true);
        });
      }
      await store.announceCancellations(this.#o.runId);
    } catch (err) {
      this.#warn(`cancel: ${(err as Error).message}`);
    }
    if (this.#pending.size === 0) return;
    const timer = setTimeout(() => {
      for (const task of [...this.#pending]) {
        const error = new AbortError(new Error(`${reason}; its worker did not confirm within ${this.#o.cancelGraceMs} ms`));
        this.#record(task, resultWithout(task.plan, 'cancelled', error), true);
      }
    }, this.#o.cancelGraceMs);
    const stop = () => clearTimeout(timer);
    const previous = this.#settle;
    this.#settle = () => {
      stop();
      previous?.();
    };
    void this.#inspect(pending);
  }
}

function suffix(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  return typeof reason === 'string' ? `: ${reason}` : '';
}
