/**
 * `bullmq` executor: runs tasks on `plateflow worker` processes anywhere that reach the same Redis,
 * and returns the same results map as the local executors. The engine for one `run()` call is in
 * run-session.ts; this facade owns the connections and the run's identity.
 *
 * A run has one id for the executor's lifetime (every `run()` call of a batch adds its plates'
 * tasks to it). Pass an earlier id as `runId` to resume that run: only unfinished tasks are
 * enqueued again.
 */
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskPlan } from '../compiler/plan.js';
import type { ExecuteOptions, Executor, ExecutorDescription } from '../execution/executor.js';
import { ExecutorClosedError } from '../execution/executors/errors.js';
import type { TaskResult } from '../execution/result.js';
import { assertReachable, connectionOptions, createClient, describeRedis, redisAddress } from './connection.js';
import { resolveBullmqOptions, type BullmqExecutorOptions, type ResolvedBullmqOptions } from './options.js';
import { RunStore } from './run-store.js';
import { RunSession, type SessionConnections } from './run-session.js';

interface Connections extends SessionConnections {
  readonly client: Redis;
}

export class BullmqExecutor implements Executor {
  readonly name = 'bullmq';
  readonly #o: ResolvedBullmqOptions;
  readonly #force = new AbortController();
  readonly #active = new Set<Promise<unknown>>();
  #connections: Promise<Connections> | undefined;
  #closing: Promise<void> | undefined;

  /** @throws ConfigError E_CONFIG_INVALID for a bad option (nothing connects before the first run) */
  constructor(options: BullmqExecutorOptions) {
    this.#o = resolveBullmqOptions(options);
  }

  /** This run's id: `plateflow status <id>` shows it, `runId: <id>` resumes it. */
  get runId(): string {
    return this.#o.runId;
  }

  get queue(): string {
    return this.#o.queue;
  }

  /**
   * What results.json records (`executorRun`), so that `plateflow status <output folder>` finds the
   * run again: its id, queue, prefix and Redis address (`host:port/db`, never a user or password).
   */
  describe(): ExecutorDescription & { readonly kind: 'bullmq'; readonly runId: string } {
    return { kind: 'bullmq', runId: this.#o.runId, details: { queue: this.#o.queue, prefix: this.#o.prefix, redis: redisAddress(this.#o.redis) } };
  }

  /**
   * Enqueues one job per plan and resolves with one result per plan.
   * @throws ExecutorClosedError after close(); PlateflowError E_CONFIG_INVALID when Redis cannot be reached
   */
  async run(plans: readonly TaskPlan[], options: ExecuteOptions = {}): Promise<Map<string, TaskResult>> {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    if (plans.length === 0) return new Map();
    const running = (async () => {
      const connections = await this.#connect();
      const signal = options.signal ? AbortSignal.any([options.signal, this.#force.signal]) : this.#force.signal;
      return new RunSession(connections, this.#o, plans, { ...options, signal }).run();
    })();
    this.#active.add(running);
    try {
      return await running;
    } finally {
      this.#active.delete(running);
    }
  }

  #connect(): Promise<Connections> {
    this.#connections ??= (async () => {
      const where = describeRedis(this.#o.redis);
      const client = createClient(this.#o.redis);
      try {
        await assertReachable(client, where);
      } catch (err) {
        client.disconnect();
        this.#connections = undefined;
        throw err;
      }
      const connection = connectionOptions(this.#o.redis);
      const queue = new Queue(this.#o.queue, { connection, prefix: this.#o.prefix });
      const events = new QueueEvents(this.#o.queue, { connection, prefix: this.#o.prefix });
      // Unhandled 'error' events would crash the process; a lost connection is retried by ioredis.
      queue.on('error', () => {});
      events.on('error', () => {});
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      return { client, queue, events, store: new RunStore(client, this.#o.prefix, this.#o.queue, this.#o.runTtlSeconds), where };
    })();
    return this.#connections;
  }

  /**
   * Graceful by default: waits for the runs in progress to finish (the workers keep working), then
   * closes our connections. `force` cancels them first (waiting jobs removed, running ones stopped
   * by their workers). Idempotent; a forced call escalates a graceful one. A Redis client given in
   * the options is never closed.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force && !this.#force.signal.aborted) this.#force.abort(new ExecutorClosedError(this.name, 'closed with force: the run was cancelled'));
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#active]);
      const connections = await this.#connections?.catch(() => undefined);
      if (!connections) return;
      for (const close of [() => connections.events.close(), () => connections.queue.close(), () => connections.client.quit()]) {
        try {
          await close();
        } catch {
          // Closing is best effort: the connection may already be gone.
        }
      }
    })();
    return this.#closing;
  }
}

/** Creates a BullMQ executor; see {@link BullmqExecutorOptions} for defaults. */
export function createBullmqExecutor(options: BullmqExecutorOptions): BullmqExecutor {
  return new BullmqExecutor(options);
}
