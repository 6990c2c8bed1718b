/**
 * The worker side of distributed runs (`plateflow worker`): a BullMQ `Worker` on the run queue
 * whose processor runs each task in a sandboxed child process from the same pool the `processes`
 * executor uses (execution/executors/process-pool.ts).
 *
 * Why our pool and not BullMQ's own sandboxed processors: the BullMQ process stays in charge of
 * the job (lock renewal, retries, moving it back on shutdown) while the child does the work, and a
 * child that dies is described by the same table as local runs (likely OOM, heap OOM, signal…),
 * with the same RSS limit and orphan guard. A crash or OOM in a task takes its child and that one
 * job, never the worker: the job is retried (with backoff) while attempts remain, then recorded
 * `killed`. If the worker process itself dies (SIGKILL, power loss), its children follow it (orphan
 * guard), its job locks expire, and another worker's stalled-job check puts the jobs back in the
 * queue. That costs the job no attempt and, by default, counts against nothing: losing a worker is
 * not the task's fault (see `maxStalledCount` in worker-options.ts).
 *
 * Before anything runs the job's plan is validated against its schema and hash, and refused
 * (result `error`, E_PLAN_INVALID / E_PATH_UNSAFE, never retried) when it names a path outside
 * the worker's roots.
 */
import { performance } from 'node:perf_hooks';
import { WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskPlan } from '../compiler/plan.js';
import { serializeError } from '../errors.js';
import { notStarted } from '../execution/executor.js';
import { dispatch, type TaskRunner } from '../execution/executors/dispatch.js';
import { ProcessPool } from '../execution/executors/process-pool.js';
import { availableCpus } from '../execution/resources/cpus.js';
import { workerEnv } from '../execution/resources/env-limits.js';
import type { TaskResult } from '../execution/result.js';
import { assertReachable, connectionOptions, createClient, describeRedis } from './connection.js';
import { RetryableTaskError } from './errors.js';
import { decodeTaskJob, encodeResult, type JobReturn } from './job-schema.js';
import { cancelChannel } from './names.js';
import { RealPathCache, assertPlanInsideRoots, resolveRoots } from './roots.js';
import { RunStore } from './run-store.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerEvent, type WorkerOptions } from './worker-options.js';

export type { WorkerEvent, WorkerOptions } from './worker-options.js';

/** Why a running task is being stopped by this worker. */
class StopReason extends Error {
  constructor(
    readonly kind: 'cancelled' | 'shutdown' | 'lock-lost',
    message: string,
  ) {
    super(message);
    this.name = 'StopReason';
  }
}

interface ActiveJob {
  readonly runId: string;
  readonly taskKey: string;
  readonly controller: AbortController;
}

/**
 * Connects to Redis, checks the roots, and starts taking jobs.
 * @throws ConfigError E_CONFIG_INVALID for a bad option or root, or when Redis cannot be reached
 */
export async function startWorker(options: WorkerOptions): Promise<PlateflowWorker> {
  const resolved = resolveWorkerOptions(options);
  const roots = await resolveRoots(options.roots);
  const where = describeRedis(options.redis);
  const client = createClient(options.redis);
  try {
    await assertReachable(client, where);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  const worker = new PlateflowWorker(options, resolved, roots, client);
  try {
    await worker.start(where);
  } catch (err) {
    await worker.close({ force: true });
    throw err;
  }
  return worker;
}

export class PlateflowWorker {
  readonly #options: WorkerOptions;
  readonly #o: ResolvedWorkerOptions;
  readonly #roots: readonly string[];
  readonly #client: Redis;
  readonly #subscriber: Redis;
  readonly #store: RunStore;
  readonly #pool: ProcessPool;
  readonly #runner: TaskRunner;
  readonly #active = new Map<string, ActiveJob>();
  /**
   * Cancellations announced on the channel, by run. A job is checked against this before it
   * starts (no round trip per job unless it is listed). The coordinator removes waiting jobs
   * before it announces, so a job taken in between is the only kind this can miss, and the
   * announcement stops it.
   */
  readonly #cancelled = new Map<string, { readonly all: boolean; readonly tasks: ReadonlySet<string> }>();
  readonly #force = new AbortController();
  readonly #realPaths = new RealPathCache();
  #bull: Worker | undefined;
  #cancelTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /** Use {@link startWorker}. */
  constructor(options: WorkerOptions, resolved: ResolvedWorkerOptions, roots: readonly string[], client: Redis) {
    this.#options = options;
    this.#o = resolved;
    this.#roots = roots;
    this.#client = client;
    this.#subscriber = client.duplicate();
    this.#store = new RunStore(client, resolved.prefix, resolved.queue);
    const cpus = availableCpus();
    const env = options.env ?? process.env;
    this.#pool = new ProcessPool({
      workers: resolved.concurrency,
      oneShot: false,
      execArgv: options.execArgv ?? [],
      envFor: (gpuId) => workerEnv({ workers: resolved.concurrency, cpus, gpuId, base: env }),
      forwardOutput: options.forwardOutput ?? true,
      memoryLimitBytes: options.workerMemoryBytes,
      memoryCheckIntervalMs: options.memoryCheckIntervalMs ?? 100,
    });
    const pool = this.#pool;
    this.#runner = { run: (plan, { signal }) => pool.run(plan, signal) };
  }

  get name(): string {
    return this.#o.name;
  }

  /** Pids of this worker's child processes. */
  get pids(): number[] {
    return this.#pool.pids;
  }

  /** @internal called once by startWorker */
  async start(where: string): Promise<void> {
    const channel = cancelChannel(this.#o.prefix, this.#o.queue);
    this.#subscriber.on('message', (ch: string, runId: string) => {
      if (ch === channel) void this.#onCancelAnnounced(runId);
    });
    this.#subscriber.on('error', (err: Error) => this.#emit({ type: 'log', level: 'warn', message: `cancel channel: ${err.message}` }));
    await this.#subscriber.subscribe(channel);
    const bull = new Worker(this.#o.queue, (job, token) => this.#process(job, token), {
      connection: connectionOptions(this.#options.redis),
      prefix: this.#o.prefix,
      concurrency: this.#o.concurrency,
      name: this.#o.name,
      lockDuration: this.#o.lockDurationMs,
      stalledInterval: this.#o.stalledIntervalMs,
      maxStalledCount: this.#o.maxStalledCount,
      autorun: false,
    });
    this.#bull = bull;
    bull.on('error', (err: Error) => this.#emit({ type: 'log', level: 'warn', message: `BullMQ: ${err.message}` }));
    // Our lock on a job expired (this process was stalled too long): the job is back in the queue
    // or already running elsewhere, so this copy only duplicates work. Stop it now, so that a
    // second execution overlaps the first as briefly as possible.
    bull.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) this.#active.get(id)?.controller.abort(new StopReason('lock-lost', `lost the lock on job ${id}; it runs elsewhere`));
    });
    // Fork the task processes before taking a job: a worker that has just started then holds no job
    // it cannot run yet, so losing it early costs no job a stall (and its first tasks wait for no fork).
    await Promise.all([this.#pool.start(), bull.waitUntilReady()]);
    void bull.run().catch((err: unknown) => this.#emit({ type: 'log', level: 'warn', message: `BullMQ worker stopped: ${(err as Error).message}` }));
    this.#emit({ type: 'ready', name: this.#o.name, queue: this.#o.queue, redis: where, concurrency: this.#o.concurrency, roots: this.#roots });
  }

  #emit(event: WorkerEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A failing listener must not fail a job.
    }
  }

  async #process(job: Job, token: string | undefined): Promise<JobReturn> {
    const jobId = job.id ?? '?';
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    let plan: TaskPlan;
    let data: ReturnType<typeof decodeTaskJob>['job'];
    try {
      ({ plan, job: data } = decodeTaskJob(job.data));
      await assertPlanInsideRoots(plan, this.#roots, this.#realPaths);
      if (plan.python) plan = { ...plan, python: { executable: this.#o.python } };
    } catch (err) {
      const e = serializeError(err);
      this.#emit({ type: 'task:refused', jobId, code: e.code ?? 'E_PLAN_INVALID', message: e.message });
      return refusal(job, err, this.#o.name);
    }
    const cancelledRun = this.#cancelled.get(data.runId);
    // The cache may be stale (a resumed run lifts cancellations), so Redis has the last word.
    if (cancelledRun && (cancelledRun.all || cancelledRun.tasks.has(data.taskKey)) && (await this.#store.cancelledAmong(data.runId, [data.taskKey])).size > 0) {
      return encodeResult(notStarted(plan, 'not started: its run was cancelled'), data.planHash, this.#o.name);
    }

    const controller = new AbortController();
    this.#active.set(jobId, { runId: data.runId, taskKey: data.taskKey, controller });
    this.#startCancelChecks();
    this.#emit({ type: 'task:start', runId: data.runId, taskId: plan.taskId, jobId, attempt });
    const started = performance.now();
    let result: TaskResult;
    try {
      const timeoutMs = data.timeoutMs ?? this.#o.defaultTimeoutMs;
      const results = await dispatch([plan], this.#runner, { concurrency: 1, signal: controller.signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      result = results.get(plan.taskId)!;
    } finally {
      this.#active.delete(jobId);
    }
    const reason: unknown = controller.signal.reason;
    if (reason instanceof StopReason && reason.kind === 'shutdown' && token) {
      // Not the task's fault: hand the job back untouched (no attempt used) for another worker.
      await job.moveToWait(token);
      this.#emit({ type: 'task:requeued', jobId, reason: reason.message });
      throw new WaitingError();
    }
    if (reason instanceof StopReason && reason.kind === 'lock-lost') {
      // The job is no longer ours: BullMQ refuses to finish it with our stale token anyway.
      this.#emit({ type: 'task:requeued', jobId, reason: reason.message });
      throw reason;
    }
    const cancelled = reason instanceof StopReason && reason.kind === 'cancelled';
    const final: TaskResult = { ...result, attempts: Math.max(attempt, job.attemptsStarted) };
    const retry = !cancelled && data.retryOn.includes(final.status) && attempt < attempts;
    this.#emit({ type: 'task:done', runId: data.runId, taskId: plan.taskId, jobId, status: final.status, seconds: (performance.now() - started) / 1000, attempt, retry });
    if (retry) throw new RetryableTaskError(final, attempt, attempts);
    return encodeResult(final, data.planHash, this.#o.name);
  }

  #startCancelChecks(): void {
    if (this.#cancelTimer) return;
    this.#cancelTimer = setInterval(() => {
      if (this.#active.size === 0) {
        clearInterval(this.#cancelTimer);
        this.#cancelTimer = undefined;
        return;
      }
      for (const runId of new Set([...this.#active.values()].map((a) => a.runId))) void this.#checkCancelled(runId);
    }, this.#o.cancelCheckIntervalMs);
    this.#cancelTimer.unref();
  }

  async #onCancelAnnounced(runId: string): Promise<void> {
    try {
      this.#cancelled.delete(runId);
      this.#cancelled.set(runId, await this.#store.readCancelled(runId));
      // Remember a bounded number of runs; the oldest announcement is forgotten first.
      if (this.#cancelled.size > 100) this.#cancelled.delete(this.#cancelled.keys().next().value!);
    } catch (err) {
      this.#emit({ type: 'log', level: 'warn', message: `cannot read the cancellations of run ${runId}: ${(err as Error).message}` });
    }
    await this.#checkCancelled(runId);
  }

  /** Aborts this worker's running tasks that their run has cancelled. */
  async #checkCancelled(runId: string): Promise<void> {
    const mine = [...this.#active.values()].filter((a) => a.runId === runId);
    if (mine.length === 0) return;
    try {
      const cancelled = await this.#store.cancelledAmong(runId, mine.map((a) => a.taskKey));
      for (const a of mine) if (cancelled.has(a.taskKey)) a.controller.abort(new StopReason('cancelled', `run ${runId} cancelled`));
    } catch (err) {
      this.#emit({ type: 'log', level: 'warn', message: `cannot check cancellation of run ${runId}: ${(err as Error).message}` });
    }
  }

  /** Stops running tasks now and hands their jobs back to the queue. */
  #handBack(message: string): void {
    for (const a of this.#active.values()) a.controller.abort(new StopReason('shutdown', message));
  }

  /**
   * Graceful by default: no new jobs; running tasks get `closeTimeoutMs` to finish, then they are
   * stopped and their jobs handed back to the queue (no attempt used), and the children exit.
   * `force` hands back running jobs at once. Idempotent; a forced call escalates a graceful one.
   * Connections given as a client are left open (only our duplicates are closed).
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force && !this.#force.signal.aborted) {
      this.#force.abort();
      this.#handBack('worker closed with force');
    }
    this.#closing ??= (async () => {
      const deadline = setTimeout(() => this.#handBack(`worker closing: tasks still running after ${this.#o.closeTimeoutMs} ms`), this.#o.closeTimeoutMs);
      const steps: (() => Promise<unknown>)[] = [
        async () => this.#bull?.close(),
        async () => clearTimeout(deadline),
        async () => clearInterval(this.#cancelTimer),
        async () => this.#pool.close(this.#force.signal, 5000),
        async () => this.#subscriber.quit(),
        async () => this.#client.quit(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          this.#emit({ type: 'log', level: 'warn', message: `while closing: ${(err as Error).message}` });
        }
      }
    })();
    return this.#closing;
  }
}

/** The final result for a job the worker will not run: its plan failed validation or leaves the roots. */
function refusal(job: Job, err: unknown, worker: string): JobReturn {
  const data = (job.data ?? {}) as { taskId?: unknown; planHash?: unknown };
  const taskId = typeof data.taskId === 'string' ? data.taskId : (job.id ?? 'unknown');
  const result: TaskResult = { taskId, axis: {}, status: 'error', error: serializeError(err), seconds: 0, images: 0, outputs: [], measurements: [], attempts: job.attemptsMade + 1 };
  return encodeResult(result, typeof data.planHash === 'string' ? data.planHash : '', worker);
}
