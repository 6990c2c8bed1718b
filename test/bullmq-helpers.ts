/**
 * What the BullMQ tests share: a real Redis on 127.0.0.1:6390 (started from /usr/bin/redis-server
 * when none answers; the tests are skipped, saying why, only when neither is there), real
 * `plateflow worker` processes from dist/, and waits on events or files with deadlines instead of
 * fixed sleeps.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll } from 'vitest';
import { REDIS_SERVER, deleteQueueKeys, ensureLocalRedis } from '../src/distributed/local-redis.js';
import { EVENT_LOG_PATH } from '../src/dashboard/event-log.js';
import { tempFileOwner } from '../src/storage/atomic.js';
import { CLI } from './helpers.js';

export const REDIS_PORT = 6390;
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;

function redisAnswers(): boolean {
  const r = spawnSync('redis-cli', ['-p', String(REDIS_PORT), 'ping'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && r.stdout.trim() === 'PONG';
}

/** Whether these tests can run here, decided when the file is collected. */
export const REDIS_AVAILABLE = existsSync(REDIS_SERVER) || redisAnswers();
export const SKIP_MESSAGE = `skipped: no Redis (${REDIS_SERVER} is not installed and nothing answers on 127.0.0.1:${REDIS_PORT}; apt-get install redis-server)`;
if (!REDIS_AVAILABLE) console.warn(`BullMQ tests ${SKIP_MESSAGE}`);

export async function ensureRedis(): Promise<string> {
  const redis = await ensureLocalRedis(REDIS_PORT);
  if (!redis) throw new Error(SKIP_MESSAGE);
  return redis.url;
}

const queues = new Set<string>();

/** A queue name no other test file (or earlier run) uses; its keys are deleted after the file's tests. */
export function uniqueQueue(name: string): string {
  const queue = `test-${name}-${process.pid}-${Date.now().toString(36)}`;
  queues.add(queue);
  return queue;
}

afterAll(async () => {
  if (queues.size > 0) await deleteQueueKeys(REDIS_URL, queues);
});

import { waitFor } from './helpers.js';
export { waitFor };
export { isRunning as alive } from './helpers.js';

/** Pids whose parent is `pid` (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return out;
}

export interface WorkerEventLine {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface WorkerProcess {
  readonly pid: number;
  readonly events: WorkerEventLine[];
  readonly stderr: () => string;
  /** Every child process this worker started, so far. */
  readonly children: Set<number>;
  waitForEvent(what: string, match: (e: WorkerEventLine) => boolean, timeoutMs?: number): Promise<WorkerEventLine>;
  /** SIGTERM (graceful) and wait for exit; SIGKILL if it is still there after the deadline. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  /** Sends a signal without waiting. */
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<number | null>;
}

const started = new Set<WorkerProcess>();
afterAll(async () => {
  await Promise.all([...started].map((w) => w.stop()));
});

/** Starts `plateflow worker --json` and resolves once it reports ready. */
export async function startWorkerProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const proc: ChildProcess = spawn(process.execPath, [CLI, 'worker', '--json', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: WorkerEventLine[] = [];
  const children = new Set<number>();
  let stderr = '';
  let buffered = '';
  const listeners = new Set<() => void>();
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      events.push(JSON.parse(line) as WorkerEventLine);
    }
    for (const l of listeners) l();
  });
  // Children come and go between events: sample them often, so the orphan check knows them all.
  const sampler = setInterval(() => {
    for (const pid of childPids(proc.pid!)) children.add(pid);
  }, 20);
  sampler.unref();
  proc.once('exit', () => clearInterval(sampler));
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waitForEvent = (what: string, match: (e: WorkerEventLine) => boolean, timeoutMs = 20_000): Promise<WorkerEventLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(match);
        if (found) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`worker ${proc.pid}: timed out waiting for ${what}; stderr: ${stderr}`));
      }, timeoutMs);
      const onExit = () => {
        cleanup();
        reject(new Error(`worker ${proc.pid} exited while waiting for ${what}; stderr: ${stderr}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        proc.off('exit', onExit);
      };
      listeners.add(check);
      proc.once('exit', onExit);
      check();
    });
  const worker: WorkerProcess = {
    pid: proc.pid!,
    events,
    children,
    stderr: () => stderr,
    waitForEvent,
    exited,
    async stop() {
      started.delete(worker);
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      started.delete(worker);
      proc.kill('SIGKILL');
      await exited;
    },
    signal(signal) {
      proc.kill(signal);
    },
  };
  started.add(worker);
  await waitForEvent('ready', (e) => e.type === 'ready');
  return worker;
}

/**
 * Waits until no task is running on these workers. A run is complete when every task has its one
 * result, but a task can run twice (a worker stalled past its lock, and the job ran elsewhere): the
 * slower copy may still be rewriting the same bytes, and a directory listing taken during a rename
 * can miss a file. Compare outputs only once every execution has ended.
 */
export async function workersIdle(workers: readonly WorkerProcess[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    'every task execution on the workers to end',
    () =>
      workers.every((w) => {
        const count = (type: string) => w.events.filter((e) => e.type === type).length;
        return count('task:start') === count('task:done') + count('task:requeued');
      }),
    timeoutMs,
  );
}

/** Every file under `dir` (relative POSIX paths), sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk('');
  return out.sort();
}

/**
 * Asserts two output folders hold the same files with the same bytes, except the run reports
 * (results.json, report.html), which record timings and the executor's name, and the dashboard's
 * event log (always left out: timings, worker ids and the order tasks ended in).
 */
export async function sameOutputs(a: string, b: string, ignore: readonly string[] = ['results.json', 'report.html']): Promise<{ files: string[]; differ: string[]; litter: string[] }> {
  // Temp files of writers killed mid-write (never renamed, so never read) are reported apart.
  const isTemp = (f: string) => tempFileOwner(path.basename(f)) !== undefined;
  // "dir/" ignores everything under dir.
  const ignored = (f: string) => f === EVENT_LOG_PATH || ignore.some((i) => (i.endsWith('/') ? f.startsWith(i) : f === i));
  const fa = (await listFiles(a)).filter((f) => !ignored(f) && !isTemp(f));
  const all = await listFiles(b);
  const litter = all.filter(isTemp);
  const fb = all.filter((f) => !ignored(f) && !isTemp(f));
  const differ: string[] = [];
  if (JSON.stringify(fa) !== JSON.stringify(fb)) differ.push(`file lists differ: ${JSON.stringify(fa)} vs ${JSON.stringify(fb)}`);
  for (const f of fa) {
    if (!fb.includes(f)) continue;
    const [x, y] = await Promise.all([readFile(path.join(a, f)), readFile(path.join(b, f))]);
    if (!x.equals(y)) differ.push(f);
  }
  return { files: fa, differ, litter };
}

/** Waits until no pid of `pids` is alive (the orphan check). */
export { waitUntilGone as allGone } from './helpers.js';
