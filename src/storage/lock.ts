import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../errors.js';
import { tempName, writerToken } from './atomic.js';
import { mayBeWriter } from './process-liveness.js';

/**
 * A lock file shared by async callers, worker threads, child processes and (on a shared
 * filesystem) other hosts — the tasks of one run that all update `plateflow_metadata.json`.
 *
 * The lock is a file holding `{pid, hostname, token}`. It is created complete and atomically by
 * hard-linking a private temp file to the lock name (`link` fails with EEXIST if the lock exists),
 * so a waiter never reads a half-written owner. Each acquisition has its own random token, which
 * is what makes two async callers in the same thread distinct owners.
 *
 * A lock is stale when its owner is a dead pid on this host (gone, a zombie, or a pid reused by a
 * process that started after the lock was last touched: see process-liveness.ts), or when its
 * mtime is older than `staleMs`. The owner touches the file every `staleMs / 3` while it holds the lock, so a live
 * owner only goes stale if its event loop is blocked that long (or its thread was terminated).
 * Stale locks are broken by renaming them away and checking the token of what was moved: if a
 * fresh lock was moved by mistake, it is linked back.
 *
 * The file operations are blocking calls: each is a metadata operation of microseconds, while an
 * async call waits for a turn of the event loop, which a worker busy with compute gives late, and
 * every waiter queues behind the holder's slowest turn. Only the waits between attempts are async.
 *
 * @module
 */

export interface FileLockOptions {
  /** Give up waiting after this long (0: one attempt, no waiting). @defaultValue 60000 */
  readonly timeoutMs?: number;
  /** A lock whose file was not touched for this long is considered abandoned. @defaultValue 30000 */
  readonly staleMs?: number;
  /** Recorded in the lock file for whoever finds it taken (e.g. the command line of a run). */
  readonly info?: Readonly<Record<string, string>>;
  /** Called when an abandoned lock is taken over, with what its file said of its owner. */
  readonly onStaleBroken?: (owner: LockOwner | undefined) => void;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_STALE_MS = 30_000;
/** Holders keep the lock for about a millisecond (the metadata update is blocking I/O), so waiters retry soon. */
const MAX_BACKOFF_MS = 10;

export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly token: string;
  readonly acquiredAt: string;
  readonly info?: Readonly<Record<string, string>>;
}

interface LockState {
  readonly owner: LockOwner | undefined;
  readonly mtimeMs: number;
  readonly ino: number;
}

/** The lock stayed taken for the whole `timeoutMs`; `owner` is what its file says (undefined if unreadable). */
export class LockBusyError extends StorageError {
  constructor(
    lockPath: string,
    readonly owner: LockOwner | undefined,
    timeoutMs: number,
  ) {
    const who = owner ? `pid ${owner.pid} on ${owner.hostname} since ${owner.acquiredAt}` : 'an unknown owner';
    super(lockPath, timeoutMs > 0 ? `timed out after ${timeoutMs} ms waiting for the lock (held by ${who})` : `lock is held by ${who}`);
    this.name = 'LockBusyError';
  }
}

/** A lock held until `release()`; its file is touched every `staleMs / 3` meanwhile. */
export interface FileLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Idempotent; never throws (a lock taken over meanwhile is left to its new owner). */
  release(): void;
}

/**
 * Takes the lock at `lockPath` (created, with parent directories, if needed) and keeps it until
 * `release()`.
 *
 * @throws LockBusyError (`E_STORAGE_IO`) when it is still held after `timeoutMs`
 * @throws StorageError (`E_STORAGE_IO`, `context.path` = `lockPath`) when the lock file cannot be created
 */
export async function acquireFileLock(lockPath: string, opts: FileLockOptions = {}): Promise<FileLock> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  if (!(timeoutMs >= 0) || !(staleMs > 0)) {
    throw new StorageError(lockPath, `invalid lock options: timeoutMs must be ≥ 0 and staleMs > 0 (got ${timeoutMs}, ${staleMs})`);
  }
  const file = path.resolve(lockPath);
  const owner = await acquire(file, timeoutMs, staleMs, opts);
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => undefined);
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();
  let released = false;
  return {
    path: file,
    owner,
    release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      release(file, owner.token);
    },
  };
}

/**
 * Run `fn` while holding the lock at `lockPath` (created, with parent directories, if needed).
 * The lock is released when `fn` settles, whether it resolves or throws.
 *
 * @throws LockBusyError (`E_STORAGE_IO`, `context.path` = `lockPath`) on timeout (the message
 *   names the current holder); StorageError when the lock file cannot be created; errors from
 *   `fn` pass through.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const lock = await acquireFileLock(lockPath, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

async function acquire(file: string, timeoutMs: number, staleMs: number, opts: FileLockOptions): Promise<LockOwner> {
  // The lock's temp file is named like every temp file (atomic.ts), with the owner's token as
  // its unique part: the stale-temp sweep then recognises one left behind by a killed process,
  // and knows its host and pid.
  const token = writerToken();
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), token, acquiredAt: new Date().toISOString(), ...(opts.info ? { info: opts.info } : {}) };
  const deadline = Date.now() + timeoutMs;
  const temp = path.join(path.dirname(file), tempName(path.basename(file), token));
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(temp, JSON.stringify(owner));
  } catch (err) {
    removeQuietly(temp);
    throw new StorageError(file, `cannot prepare lock: ${(err as Error).message}`, { cause: err });
  }
  try {
    let backoff = 1;
    for (;;) {
      if (tryCreate(file, temp, owner)) return owner;
      const state = inspect(file);
      if (state === undefined) continue; // released between our attempt and the look: retry at once
      if (isStale(state, staleMs)) {
        if (breakStale(file, state, token)) opts.onStaleBroken?.(state.owner);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new LockBusyError(file, state.owner, timeoutMs);
      // Jitter keeps many waiters from retrying in lock-step.
      await sleep(Math.min(left, backoff * (0.5 + Math.random())));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  } finally {
    removeQuietly(temp);
  }
}

function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // a leftover temp file is swept by the next run; the lock outcome stands
  }
}

/** Filesystems without hard links fall back to O_EXCL create (briefly empty, see `inspect`). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP', 'EXDEV']);

function tryCreate(file: string, temp: string, owner: LockOwner): boolean {
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw new StorageError(file, `cannot create lock: ${(err as Error).message}`, { cause: err });
  }
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx');
    writeFileSync(fd, JSON.stringify(owner));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StorageError(file, `cannot create lock: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function inspect(file: string): LockState | undefined {
  try {
    const st = statSync(file);
    const text = readFileSync(file, 'utf8');
    return { owner: parseOwner(text), mtimeMs: st.mtimeMs, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StorageError(file, `cannot inspect lock: ${(err as Error).message}`, { cause: err });
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    return typeof v.pid === 'number' && typeof v.token === 'string' && typeof v.hostname === 'string' ? (v as LockOwner) : undefined;
  } catch {
    return undefined; // being written by the O_EXCL fallback, or garbage: only age can make it stale
  }
}

function isStale(state: LockState, staleMs: number): boolean {
  if (Date.now() - state.mtimeMs > staleMs) return true;
  const owner = state.owner;
  // The holder touches the file while it holds the lock, so the mtime is its last sign of life: a
  // zombie, or a pid that started after it (reused), is not the holder.
  return owner !== undefined && owner.hostname === hostname() && !mayBeWriter(owner.pid, state.mtimeMs);
}

function sameLock(a: LockState, b: LockState | undefined): boolean {
  if (b === undefined) return false;
  // Tokens are unique; inode numbers are reused quickly, so they only stand in for unreadable files.
  return a.owner && b.owner ? a.owner.token === b.owner.token : a.ino === b.ino && a.mtimeMs === b.mtimeMs;
}

/** True when the lock we judged stale was the one removed (not a fresh one put back). */
function breakStale(file: string, seen: LockState, token: string): boolean {
  const grave = `${file}.${token}.stale`;
  try {
    renameSync(file, grave); // atomic: we now own whatever was at `file`
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // someone else broke or released it
    throw new StorageError(file, `cannot break stale lock: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (sameLock(seen, inspect(grave))) return true;
    // Another waiter replaced the stale lock between our look and our rename: put theirs back.
    try {
      linkSync(grave, file);
    } catch {
      // a third waiter took the name meanwhile: theirs stands
    }
    return false;
  } finally {
    removeQuietly(grave);
  }
}

function release(file: string, token: string): void {
  let state: LockState | undefined;
  try {
    state = inspect(file);
  } catch {
    return; // unreadable: not provably ours, so not ours to remove
  }
  // If our lock was broken as stale and someone else holds it now, it is theirs to remove.
  if (state?.owner?.token === token) removeQuietly(file);
}
