/**
 * A Redis for tests and benchmarks on this machine: answers on 127.0.0.1:<port>, or is started
 * there (loopback only, no persistence) from Debian's redis-server. Not part of the public API.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';

export const REDIS_SERVER = '/usr/bin/redis-server';

export async function pingRedis(port: number, host = '127.0.0.1'): Promise<boolean> {
  const client = new Redis({ host, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export interface LocalRedis {
  readonly url: string;
  /** True when this call started the server (it keeps running, as a service would). */
  readonly started: boolean;
}

/**
 * @returns the server's URL, or undefined when none answers and `bin` is not installed
 * @throws Error when redis-server was started but does not answer within `timeoutMs`
 */
export async function ensureLocalRedis(port = 6390, { bin = REDIS_SERVER, timeoutMs = 10_000 } = {}): Promise<LocalRedis | undefined> {
  const url = `redis://127.0.0.1:${port}`;
  if (await pingRedis(port)) return { url, started: false };
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes', '--save', '', '--appendonly', 'no'], { encoding: 'utf8' });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingRedis(port)) return { url, started: true };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`started ${bin} on 127.0.0.1:${port} but it does not answer (exit ${r.status}): ${r.stderr || r.stdout}`);
}

/**
 * Deletes everything of the given queues: BullMQ's keys and plateflow's run records alike live
 * under `<prefix>:<queue>:`. For tests and benches that make throw-away queues on a local Redis.
 */
export async function deleteQueueKeys(url: string, queues: Iterable<string>, prefix = 'plateflow'): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const queue of queues) {
      for (let cursor = '0'; ; ) {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:${queue}:*`, 'COUNT', 1000);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
    }
  } finally {
    client.disconnect();
  }
}
