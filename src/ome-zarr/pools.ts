/**
 * Worker pools for `processPosition` units: threads (piscina) or child processes (`fork`).
 *
 * Both report a unit's own failure as a rejected `run` carrying the worker's serialized error,
 * and a *dead worker* — an OOM kill, `process.exit`, a segfault — as `E_TASK_KILLED` at once. That
 * is the iohub lesson (seed 002): `multiprocessing.Pool` waited forever for the result of a worker
 * the cgroup had killed, so a Slurm job hung until wall time. Here the pending unit is rejected as
 * soon as its worker's `exit` event fires, and the coordinator stops and closes the pool.
 *
 * Local to `ome-zarr/` because the executors in `execution/executors/` run pipeline task plans,
 * not arbitrary units; both build on the same piscina / `child_process` primitives.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConfigError, PlateflowError, type SerializedError } from '../errors.js';
import { availableCpus } from '../execution/resources/cpus.js';
import { workerEnv } from '../execution/resources/env-limits.js';
import type { UnitOutcome, UnitTask } from './unit.js';

export type PositionExecutor = 'threads' | 'processes';

export interface UnitPool {
  run(task: UnitTask, signal?: AbortSignal): Promise<UnitOutcome>;
  /** Idempotent. `force` kills running workers instead of letting them finish. */
  close(force?: boolean): Promise<void>;
}

/** What a worker sends back for one unit. */
export type UnitReply = { readonly ok: true; readonly outcome: UnitOutcome } | { readonly ok: false; readonly error: SerializedError };

/** Messages to and from a child process. */
export type ChildRequest = { readonly type: 'run'; readonly id: number; readonly task: UnitTask };
export type ChildReply = { readonly type: 'reply'; readonly id: number; readonly reply: UnitReply };

/** A worker's error, rebuilt with its code, context and message chain. */
export function revive(error: SerializedError): PlateflowError {
  const cause = error.cause ? revive(error.cause) : undefined;
  const code = (error.code ?? 'E_STEP_FAILED') as PlateflowError['code'];
  const err = new PlateflowError(code, error.message, error.context ?? {}, cause ? { cause } : undefined);
  err.name = error.name;
  if (error.stack) err.stack = error.stack;
  return err;
}

function entry(name: string): string {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (!existsSync(file)) {
    throw new ConfigError(`worker entry ${file} is missing: threads and processes executors run the compiled build (npm run build)`, { file });
  }
  return file;
}

function killed(what: string, detail: string, task: UnitTask): PlateflowError {
  return new PlateflowError('E_TASK_KILLED', `${what} died (${detail}) while running unit t=${task.unit.t} c=[${task.unit.channels.join(',')}] of ${task.input}`, {
    task: `t${task.unit.t}`,
  });
}

export function threadPool(size: number): UnitPool {
  const pool = new Piscina<UnitTask, UnitReply>({ filename: entry('position-worker'), minThreads: size, maxThreads: size, idleTimeout: 1000 });
  let closing: Promise<void> | undefined;
  return {
    async run(task, signal) {
      let reply: UnitReply;
      try {
        reply = await pool.run(task, signal ? { signal } : {});
      } catch (err) {
        if (signal?.aborted) throw err;
        // Our worker never throws (it replies with an error), so this is the thread itself failing.
        throw killed('worker thread', (err as Error).message, task);
      }
      if (!reply.ok) throw revive(reply.error);
      return reply.outcome;
    },
    close(force) {
      closing ??= force ? pool.destroy() : pool.close();
      return closing;
    },
  };
}

interface Child {
  readonly proc: ChildProcess;
  pending: { id: number; task: UnitTask; resolve: (o: UnitOutcome) => void; reject: (e: unknown) => void } | undefined;
  exited: boolean;
}

export function processPool(size: number): UnitPool {
  const file = entry('position-child');
  const idle: Child[] = [];
  const waiting: ((c: Child) => void)[] = [];
  const all: Child[] = [];
  let nextId = 0;
  let closing: Promise<void> | undefined;

  const release = (c: Child): void => {
    const w = waiting.shift();
    if (w) w(c);
    else idle.push(c);
  };

  const spawnChild = (): Child => {
    // Each child gets its share of the CPUs for OpenMP/BLAS/libuv threads (see execution/resources/env-limits.ts).
    const proc = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: workerEnv({ workers: size, cpus: availableCpus() }) });
    const child: Child = { proc, pending: undefined, exited: false };
    proc.on('message', (msg: ChildReply) => {
      const p = child.pending;
      if (!p || msg.type !== 'reply' || msg.id !== p.id) return;
      child.pending = undefined;
      if (msg.reply.ok) p.resolve(msg.reply.outcome);
      else p.reject(revive(msg.reply.error));
      release(child);
    });
    proc.on('exit', (code, signal) => {
      child.exited = true;
      const p = child.pending;
      child.pending = undefined;
      if (p) p.reject(killed(`worker process ${proc.pid}`, signal ? `signal ${signal}` : `exit code ${code}`, p.task));
      const i = idle.indexOf(child);
      if (i >= 0) idle.splice(i, 1);
      if (closing === undefined) {
        // Keep the pool at full size for units still queued; the coordinator decides whether to go on.
        const replacement = spawnChild();
        all.push(replacement);
        release(replacement);
      }
    });
    proc.on('error', () => undefined); // 'exit' follows and reports it
    return child;
  };

  for (let i = 0; i < size; i++) {
    const c = spawnChild();
    all.push(c);
    idle.push(c);
  }

  const acquire = (): Promise<Child> => {
    const c = idle.shift();
    return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
  };

  return {
    async run(task, signal) {
      signal?.throwIfAborted();
      const child = await acquire();
      return new Promise<UnitOutcome>((resolve, reject) => {
        const id = nextId++;
        const onAbort = () => child.proc.kill('SIGKILL');
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => signal?.removeEventListener('abort', onAbort);
        child.pending = {
          id,
          task,
          resolve: (o) => (done(), resolve(o)),
          reject: (e) => (done(), reject(signal?.aborted ? signal.reason : e)),
        };
        child.proc.send({ type: 'run', id, task } satisfies ChildRequest);
      });
    },
    close(force) {
      closing ??= Promise.all(
        all.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exited) return resolve();
              c.proc.once('exit', () => resolve());
              // The coordinator closes gracefully only once no unit is running, so SIGTERM loses nothing.
              c.proc.kill(force ? 'SIGKILL' : 'SIGTERM');
            }),
        ),
      ).then(() => undefined);
      return closing;
    },
  };
}
