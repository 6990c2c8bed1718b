/**
 * Finding a distributed run again from its output folder. A run's results.json records its
 * executor as `executorRun` (the executor's `describe()`); for a BullMQ run that is
 * `{ kind: 'bullmq', runId, details: { queue, prefix, redis: 'host:port/db' } }`, everything
 * `plateflow status <folder>` needs except a password, which is never written there.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RedisOptions } from 'ioredis';
import { ConfigError, isPlateflowError } from '../errors.js';
import { parseRedisAddress, redisAddress, REDIS_URL_ENV } from './connection.js';
import { RunRecordError } from './errors.js';
import { assertQueueName, assertRunId } from './names.js';
import type { RunStatusOptions } from './status.js';

export interface StatusRequest {
  /** A run id, or a run's output folder (or its results.json). An existing path is read as a folder. */
  readonly target: string;
  /** Redis URL given explicitly (`--redis`): used as is, also over the address a folder records. */
  readonly redis?: string;
  /**
   * The usual Redis URL (`PLATEFLOW_REDIS_URL`). For a folder it is used only when it names the
   * recorded `host:port/db`, since it may carry that server's password; never sent elsewhere.
   */
  readonly defaultRedis?: string;
  /** Queue given explicitly (`--queue`), over the one a folder records. @default 'tasks' for a run id */
  readonly queue?: string;
}

/**
 * What to pass to `getRunStatus` for `plateflow status <target>`.
 * @throws RunRecordError E_NOT_FOUND (no such folder and not a run id, or no results.json in it),
 *   E_CONFIG_INVALID (results.json does not parse or is not of a BullMQ run);
 *   ConfigError E_CONFIG_INVALID when a run id comes without a Redis URL
 */
export async function statusOptionsFor(request: StatusRequest): Promise<RunStatusOptions> {
  const { target } = request;
  const found = await stat(target).catch(() => undefined);
  if (!found) {
    if (target.includes('/') || target.includes(path.sep)) throw new RunRecordError('E_NOT_FOUND', `no folder ${target}: give a run's output folder or its run id`, target);
    const redis = request.redis ?? request.defaultRedis;
    if (!redis) throw new ConfigError(`give --redis <url> or set ${REDIS_URL_ENV}`);
    return { redis, runId: target, ...(request.queue !== undefined ? { queue: request.queue } : {}) };
  }
  const file = found.isDirectory() ? path.join(target, 'results.json') : target;
  const run = await readRecordedRun(file);
  return { redis: request.redis ?? sameServer(request.defaultRedis, run.redis) ?? run.redis, runId: run.runId, queue: request.queue ?? run.queue, prefix: run.prefix };
}

interface RecordedRun {
  readonly runId: string;
  readonly queue: string;
  readonly prefix: string;
  readonly redis: RedisOptions;
}

async function readRecordedRun(file: string): Promise<RecordedRun> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RunRecordError('E_NOT_FOUND', `no results.json in ${path.dirname(file)}: not a plateflow output folder, or its run has not finished writing results (give the run id instead)`, file);
    throw new RunRecordError('E_CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, file);
  }
  let run: unknown;
  try {
    run = (JSON.parse(text) as { executorRun?: unknown }).executorRun;
  } catch (err) {
    throw new RunRecordError('E_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, file);
  }
  if (typeof run !== 'object' || run === null) throw new RunRecordError('E_CONFIG_INVALID', `${file} records no executor run ("executorRun"; written by an older plateflow?): give the run id instead`, file);
  const { kind, runId, details } = run as { kind?: unknown; runId?: unknown; details?: Record<string, unknown> };
  if (kind !== 'bullmq') throw new RunRecordError('E_CONFIG_INVALID', `${file} is of a run on the "${String(kind)}" executor; plateflow status follows runs of --executor bullmq only`, file);
  try {
    return {
      runId: assertRunId(String(runId), `executorRun.runId in ${file}`),
      queue: assertQueueName(String(details?.queue), `executorRun.details.queue in ${file}`),
      prefix: assertQueueName(String(details?.prefix), `executorRun.details.prefix in ${file}`),
      redis: parseRedisAddress(String(details?.redis), `executorRun.details.redis in ${file}`),
    };
  } catch (err) {
    if (isPlateflowError(err, 'E_CONFIG_INVALID')) throw new RunRecordError('E_CONFIG_INVALID', err.message, file);
    throw err;
  }
}

/** `url` when it names the same host:port/db as `recorded` (so its password is for that server), else undefined. */
function sameServer(url: string | undefined, recorded: RedisOptions): string | undefined {
  if (!url) return undefined;
  try {
    return redisAddress(url) === redisAddress(recorded) ? url : undefined;
  } catch (err) {
    // A malformed default URL matches nothing; it is not what was asked for here.
    if (isPlateflowError(err, 'E_CONFIG_INVALID')) return undefined;
    throw err;
  }
}
