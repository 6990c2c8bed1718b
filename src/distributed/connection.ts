/**
 * Redis connections from a URL: `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS.
 * Passwords may be given in the URL, but a command line is visible to every user of the machine
 * (`ps`), so the CLI also reads the URL from `PLATEFLOW_REDIS_URL`, and nothing we print shows a
 * password ({@link redactRedisUrl}).
 *
 * Each caller that passes a URL gets connections it owns and closes; an ioredis client passed in
 * is borrowed: we `duplicate()` it for our own use and never close the original.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError, PlateflowError } from '../errors.js';

export const REDIS_URL_ENV = 'PLATEFLOW_REDIS_URL';

/** A URL, ioredis options, or a client to borrow (never closed by plateflow). */
export type RedisInput = string | RedisOptions | Redis;

/**
 * @throws ConfigError E_CONFIG_INVALID naming `what` and the URL (password hidden)
 */
export function parseRedisUrl(url: string, what = '--redis'): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${what} must be a URL such as redis://127.0.0.1:6379 or redis://:password@host:6379/0, got "${redactRedisUrl(url)}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`${what} must start with redis:// or rediss:// (TLS), got "${redactRedisUrl(url)}"`);
  if (!u.hostname) throw new ConfigError(`${what} names no host: "${redactRedisUrl(url)}"`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || !/^\d*$/.test(dbText)) throw new ConfigError(`${what}: the database after "/" must be a number, got "${dbText}"`);
  const options: RedisOptions = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, db };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (u.password) options.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') options.tls = { servername: u.hostname };
  return options;
}

/** The URL with its password replaced by `***`, for logs and messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** A short description of where we connect, without secrets. */
export function describeRedis(input: RedisInput): string {
  if (typeof input === 'string') return redactRedisUrl(input);
  const o = input instanceof Redis ? input.options : input;
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}

/**
 * `host:port/db` (`[v6addr]:port/db`): where a run's Redis is, for results.json. No user, password
 * or TLS setting, so it can be written anywhere; {@link parseRedisAddress} reads it back.
 */
export function redisAddress(input: RedisInput): string {
  const { host = 'localhost', port = 6379, db = 0 } = connectionOptions(input) as RedisOptions;
  return `${host.includes(':') ? `[${host}]` : host}:${port}/${db}`;
}

/** @throws ConfigError E_CONFIG_INVALID naming `what` when the text is not `host:port/db` */
export function parseRedisAddress(address: string, what: string): RedisOptions {
  const m = /^(\[[^\]]+\]|[^:/\s]+):(\d+)\/(\d+)$/.exec(address);
  if (!m) throw new ConfigError(`${what} must be a Redis address host:port/db, got "${address}"`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]), db: Number(m[3]) };
}

/**
 * Options for the connections BullMQ creates and owns. For a borrowed client, what identifies its
 * server is copied: BullMQ opens (and closes) connections of its own rather than sharing ours.
 */
export function connectionOptions(input: RedisInput): BullRedisOptions {
  const o = typeof input === 'string' ? parseRedisUrl(input) : input instanceof Redis ? input.options : input;
  const { host, port, username, password, db, tls, family, path } = o;
  const picked: Record<string, unknown> = { host, port, username, password, db, tls, family, path };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)) as BullRedisOptions;
}

/**
 * A plain client for plateflow's own keys. `maxRetriesPerRequest: 3` so a dead Redis surfaces
 * as an error instead of a command waiting forever.
 */
export function createClient(input: RedisInput, extra: RedisOptions = {}): Redis {
  return new Redis({ ...(connectionOptions(input) as RedisOptions), maxRetriesPerRequest: 3, ...extra });
}

/**
 * Fails fast, with a message a person can act on, when Redis cannot be reached or refuses us.
 * @throws PlateflowError E_CONFIG_INVALID ("cannot reach Redis at …")
 */
export async function assertReachable(client: Redis, where: string, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new PlateflowError('E_CONFIG_INVALID', `cannot reach Redis at ${where}: ${(err as Error).message}`, { redis: where }, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
