/**
 * `plateflow status <run-id>`: where each task of a distributed run stands, read from Redis alone
 * (the coordinator may be gone). A task's recorded result wins; without one, its BullMQ job says
 * whether it waits, runs, is between attempts, or finished without the coordinator seeing it.
 */
import { Queue } from 'bullmq';
import type { TaskStatus } from '../execution/result.js';
import { assertReachable, connectionOptions, createClient, describeRedis, type RedisInput } from './connection.js';
import { RunNotFoundError } from './errors.js';
import { decodeJobReturn } from './job-schema.js';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, assertQueueName, assertRunId } from './names.js';
import { RunStore, type RunMeta } from './run-store.js';

/** done = ended ok/skipped; failed = ended otherwise; retrying = waiting for its next attempt; missing = no job and no result. */
export type TaskState = 'done' | 'failed' | 'active' | 'waiting' | 'retrying' | 'missing';

export const TASK_STATES: readonly TaskState[] = ['done', 'failed', 'active', 'waiting', 'retrying', 'missing'];

export interface TaskStatusEntry {
  readonly taskId: string;
  readonly outputRoot: string;
  readonly jobId: string;
  readonly state: TaskState;
  /** The task's result status, once it has one. */
  readonly status?: TaskStatus;
  readonly attempts?: number;
  readonly error?: string;
  readonly worker?: string;
}

export interface RunStatus {
  readonly runId: string;
  readonly queue: string;
  readonly created: number;
  readonly updated: number;
  readonly cancelled?: string;
  readonly total: number;
  readonly counts: Readonly<Record<TaskState, number>>;
  /** Result statuses of the finished tasks. */
  readonly statuses: Readonly<Partial<Record<TaskStatus, number>>>;
  readonly tasks: readonly TaskStatusEntry[];
}

export interface RunStatusOptions {
  readonly redis: RedisInput;
  readonly runId: string;
  /** @default 'tasks' */
  readonly queue?: string;
  /** @default 'plateflow' */
  readonly prefix?: string;
}

/**
 * @throws RunNotFoundError E_NOT_FOUND when the run has no record; PlateflowError E_CONFIG_INVALID when Redis cannot be reached
 */
export async function getRunStatus(options: RunStatusOptions): Promise<RunStatus> {
  return withRun(options, async ({ store, runId, meta, queueName, prefix }) => {
    const [tasks, results] = await Promise.all([store.readTasks(runId), store.readResults(runId)]);
    const queue = new Queue(queueName, { connection: connectionOptions(options.redis), prefix });
    queue.on('error', () => {});
    try {
      const entries: TaskStatusEntry[] = [];
      const all = [...tasks];
      for (let i = 0; i < all.length; i += 500) {
        const chunk = all.slice(i, i + 500);
        entries.push(
          ...(await Promise.all(
            chunk.map(async ([taskKey, t]): Promise<TaskStatusEntry> => {
              const base = { taskId: t.taskId, outputRoot: t.outputRoot, jobId: t.jobId };
              const recorded = results.get(taskKey);
              if (recorded && recorded.planHash === t.planHash) return finished(base, recorded.result, recorded.worker);
              const state = await queue.getJobState(t.jobId);
              if (state === 'active') return { ...base, state: 'active' };
              if (state === 'delayed') return { ...base, state: 'retrying' };
              if (state === 'unknown') return { ...base, state: 'missing' };
              if (state !== 'completed' && state !== 'failed') return { ...base, state: 'waiting' };
              const job = await queue.getJob(t.jobId);
              if (state === 'failed' || !job) return { ...base, state: 'failed', ...(job?.failedReason ? { error: job.failedReason } : {}) };
              try {
                const r = decodeJobReturn(job.returnvalue);
                return finished(base, r.result, r.worker);
              } catch (err) {
                return { ...base, state: 'failed', error: (err as Error).message };
              }
            }),
          )),
        );
      }
      return { runId, queue: queueName, created: meta.created, updated: meta.updated, ...(meta.cancelled ? { cancelled: meta.cancelled } : {}), ...tally(entries) };
    } finally {
      await queue.close().catch(() => {});
    }
  });
}

/**
 * The output folders the run's tasks write into (one per plate), from its record alone: what
 * `plateflow dashboard <run-id>` serves.
 * @throws as getRunStatus
 */
export async function getRunOutputRoots(options: RunStatusOptions): Promise<string[]> {
  return withRun(options, async ({ store, runId }) => [...new Set([...(await store.readTasks(runId)).values()].map((t) => t.outputRoot))]);
}

interface OpenRun {
  readonly store: RunStore;
  readonly runId: string;
  readonly meta: RunMeta;
  readonly queueName: string;
  readonly prefix: string;
}

/** Connects, finds the run's record (or throws), and hands it to `use`; the connection is closed after. */
async function withRun<T>(options: RunStatusOptions, use: (run: OpenRun) => Promise<T>): Promise<T> {
  const runId = assertRunId(options.runId);
  const queueName = assertQueueName(options.queue ?? DEFAULT_QUEUE, '--queue');
  const prefix = assertQueueName(options.prefix ?? DEFAULT_PREFIX, 'prefix');
  const where = describeRedis(options.redis);
  const client = createClient(options.redis);
  try {
    await assertReachable(client, where);
    const store = new RunStore(client, prefix, queueName);
    const meta = await store.readMeta(runId);
    if (!meta) throw new RunNotFoundError(runId, `queue "${queueName}" at ${where}`);
    return await use({ store, runId, meta, queueName, prefix });
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}

/** Counts of the entries by state and by result status. */
export function tally(entries: readonly TaskStatusEntry[]): Pick<RunStatus, 'total' | 'counts' | 'statuses' | 'tasks'> {
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  const statuses: Partial<Record<TaskStatus, number>> = {};
  for (const e of entries) {
    counts[e.state]++;
    if (e.status) statuses[e.status] = (statuses[e.status] ?? 0) + 1;
  }
  return { total: entries.length, counts, statuses, tasks: entries };
}

export function finished(base: Pick<TaskStatusEntry, 'taskId' | 'outputRoot' | 'jobId'>, result: { status: TaskStatus; attempts?: number; error?: { message: string } }, worker: string): TaskStatusEntry {
  return {
    ...base,
    state: result.status === 'ok' || result.status === 'skipped' ? 'done' : 'failed',
    status: result.status,
    ...(result.attempts !== undefined ? { attempts: result.attempts } : {}),
    ...(result.error ? { error: result.error.message } : {}),
    ...(worker ? { worker } : {}),
  };
}

/** The status as a person reads it: one summary line, then every task that did not end ok. */
export function formatRunStatus(status: RunStatus): string {
  const c = status.counts;
  const lines = [
    `run ${status.runId} (queue "${status.queue}") — started ${new Date(status.created).toISOString()}, last change ${new Date(status.updated).toISOString()}${status.cancelled ? `, cancelled: ${status.cancelled}` : ''}`,
    `  ${status.total} task(s): ${c.done} done, ${c.active} active, ${c.waiting + c.retrying} waiting${c.retrying ? ` (${c.retrying} between attempts)` : ''}, ${c.failed} failed${c.missing ? `, ${c.missing} missing (no job, no result: resume the run to enqueue them)` : ''}`,
  ];
  const statuses = Object.entries(status.statuses).map(([s, n]) => `${s} ${n}`);
  if (statuses.length > 0) lines.push(`  results: ${statuses.join(', ')}`);
  const failed = status.tasks.filter((t) => t.state === 'failed' || t.state === 'missing');
  if (failed.length > 0) {
    lines.push('  PROBLEMS:');
    for (const t of failed) lines.push(`    ${t.taskId}  ${t.status ?? t.state}${t.attempts ? ` after ${t.attempts} attempt(s)` : ''}${t.error ? `: ${t.error}` : ''}  [${t.outputRoot}]`);
  }
  return lines.join('\n');
}
