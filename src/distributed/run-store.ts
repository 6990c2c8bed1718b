/**
 * plateflow's own record of a distributed run, beside BullMQ's queue (layout in names.ts). BullMQ
 * knows jobs; this knows which jobs make up a run, the one result recorded per task (HSETNX: the
 * first writer wins, so a task that ran twice still has one result), and which tasks were
 * cancelled. Every key expires `ttlSeconds` after the run last changed.
 */
import type { Redis } from 'ioredis';
import type { TaskResult } from '../execution/result.js';
import { decodeJobReturn, encodeResult } from './job-schema.js';
import { cancelChannel, runKeys, type RunKeys } from './names.js';

export interface TaskEntry {
  readonly taskId: string;
  readonly jobId: string;
  readonly planHash: string;
  readonly outputRoot: string;
}

export interface StoredResult {
  readonly planHash: string;
  readonly worker: string;
  readonly result: TaskResult;
}

export interface RunMeta {
  readonly created: number;
  readonly updated: number;
  /** Set when the whole run was cancelled: the reason. */
  readonly cancelled?: string;
}

/** Default lifetime of a run's records after its last change: 7 days. */
export const DEFAULT_RUN_TTL_SECONDS = 7 * 24 * 3600;

const CHUNK = 1000;

export class RunStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #queue: string;
  readonly #ttl: number;

  constructor(client: Redis, prefix: string, queue: string, ttlSeconds = DEFAULT_RUN_TTL_SECONDS) {
    this.#client = client;
    this.#prefix = prefix;
    this.#queue = queue;
    this.#ttl = ttlSeconds;
  }

  keys(runId: string): RunKeys {
    return runKeys(this.#prefix, this.#queue, runId);
  }

  async readMeta(runId: string): Promise<RunMeta | undefined> {
    const raw = await this.#client.hgetall(this.keys(runId).meta);
    if (!raw.created) return undefined;
    return { created: Number(raw.created), updated: Number(raw.updated ?? raw.created), ...(raw.cancelled ? { cancelled: raw.cancelled } : {}) };
  }

  /**
   * Creates the run's record if new, marks it updated, and pushes back its expiry. `reopen` (a
   * coordinator starting or resuming the run) lifts an earlier whole-run cancellation.
   */
  async touch(runId: string, options: { reopen?: boolean } = {}): Promise<void> {
    const k = this.keys(runId);
    const now = String(Date.now());
    const m = this.#client.multi().hsetnx(k.meta, 'created', now).hset(k.meta, 'updated', now);
    if (options.reopen) m.hdel(k.meta, 'cancelled');
    for (const key of [k.meta, k.tasks, k.results, k.cancelled]) m.expire(key, this.#ttl);
    await m.exec();
  }

  async registerTasks(runId: string, entries: ReadonlyMap<string, TaskEntry>): Promise<void> {
    const key = this.keys(runId).tasks;
    const all = [...entries];
    for (let i = 0; i < all.length; i += CHUNK) {
      const fields: string[] = [];
      for (const [taskKey, entry] of all.slice(i, i + CHUNK)) fields.push(taskKey, JSON.stringify(entry));
      await this.#client.hset(key, ...fields);
    }
  }

  async readTasks(runId: string): Promise<Map<string, TaskEntry>> {
    const raw = await this.#client.hgetall(this.keys(runId).tasks);
    const out = new Map<string, TaskEntry>();
    for (const [taskKey, text] of Object.entries(raw)) {
      try {
        out.set(taskKey, JSON.parse(text) as TaskEntry);
      } catch {
        // A damaged entry is a task we know nothing about; status shows it as unknown.
      }
    }
    return out;
  }

  /** Every recorded result; an entry that does not parse is left out (the task counts as unfinished). */
  async readResults(runId: string): Promise<Map<string, StoredResult>> {
    const raw = await this.#client.hgetall(this.keys(runId).results);
    const out = new Map<string, StoredResult>();
    for (const [taskKey, text] of Object.entries(raw)) {
      try {
        out.set(taskKey, decodeJobReturn(text));
      } catch {
        // see above
      }
    }
    return out;
  }

  /** Records a task's result unless one is already recorded; true when this one was kept. */
  async saveResult(runId: string, taskKey: string, stored: StoredResult): Promise<boolean> {
    const text = JSON.stringify(encodeResult(stored.result, stored.planHash, stored.worker));
    return (await this.#client.hsetnx(this.keys(runId).results, taskKey, text)) === 1;
  }

  /** Forgets results of tasks about to run again (resume), so their new result can be recorded. */
  async dropResults(runId: string, taskKeys: readonly string[]): Promise<void> {
    const k = this.keys(runId);
    for (let i = 0; i < taskKeys.length; i += CHUNK) {
      const chunk = taskKeys.slice(i, i + CHUNK);
      await this.#client.multi().hdel(k.results, ...chunk).srem(k.cancelled, ...chunk).exec();
    }
  }

  /** Marks tasks cancelled: a worker that takes one of them from now on does not start it. */
  async markCancelled(runId: string, taskKeys: readonly string[]): Promise<void> {
    const k = this.keys(runId);
    for (let i = 0; i < taskKeys.length; i += CHUNK) await this.#client.sadd(k.cancelled, ...taskKeys.slice(i, i + CHUNK));
    await this.#client.expire(k.cancelled, this.#ttl);
  }

  /** Tells every worker to read the cancellations of this run again (they abort what they run of it). */
  async announceCancellations(runId: string): Promise<void> {
    await this.#client.publish(cancelChannel(this.#prefix, this.#queue), runId);
  }

  /** Marks the whole run cancelled (every task, including ones enqueued later by a resume) and tells the workers. */
  async cancelRun(runId: string, reason: string): Promise<void> {
    await this.#client.hset(this.keys(runId).meta, 'cancelled', reason);
    await this.#client.publish(cancelChannel(this.#prefix, this.#queue), runId);
  }

  /** Everything cancelled in the run: the whole run, or these task keys. One round trip. */
  async readCancelled(runId: string): Promise<{ readonly all: boolean; readonly tasks: ReadonlySet<string> }> {
    const k = this.keys(runId);
    const [[, all], [, members]] = (await this.#client.multi().hget(k.meta, 'cancelled').smembers(k.cancelled).exec()) as [[unknown, string | null], [unknown, string[]]];
    return { all: Boolean(all), tasks: new Set(members) };
  }

  /** Which of these tasks of the run are cancelled. One round trip. */
  async cancelledAmong(runId: string, taskKeys: readonly string[]): Promise<Set<string>> {
    if (taskKeys.length === 0) return new Set();
    const k = this.keys(runId);
    const [[, all], [, flags]] = (await this.#client.multi().hget(k.meta, 'cancelled').smismember(k.cancelled, ...taskKeys).exec()) as [[unknown, string | null], [unknown, number[]]];
    if (all) return new Set(taskKeys);
    return new Set(taskKeys.filter((_, i) => flags[i] === 1));
  }
}
