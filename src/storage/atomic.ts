import { randomBytes } from 'node:crypto';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, writevSync } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { StorageError } from '../errors.js';
import { hostTag } from './process-liveness.js';

/**
 * Crash-safe file replacement.
 *
 * Outputs of a run that is killed at hour 5 must be either the old file or the complete new one,
 * because resume trusts whatever exists. So data goes to a temp file in the *same* directory
 * (rename is only atomic within one filesystem), is fsynced before the rename (otherwise a power
 * loss can leave the new name pointing at an empty inode), and the directory is fsynced after it
 * (otherwise the rename itself may be lost). On any failure the temp files are removed.
 *
 * The bytes are written with blocking calls and only the fsyncs go to the thread pool. Each async
 * fs call costs a turn of the event loop, and a task's thread takes that turn only between two
 * pieces of compute: measured on the plate benchmark, a write made of seven async calls was still
 * unfinished when its step ended, and tasks spent a third of their time waiting for such chains.
 * Copying 512 KiB into the page cache takes ~0.2 ms, the same work either way. With
 * `fsync: 'blocking'` the fsyncs are in place too: for small files written under a lock, where
 * holding the lock across event-loop turns made the other workers wait (measured: most of the
 * metadata update). `fsync: 'none'` keeps only the atomic rename, for files whose loss in a power
 * failure costs nothing but redone work (checkpoint markers).
 *
 * @module
 */

interface Staged {
  readonly target: string;
  readonly temp: string;
  fd: number | undefined;
  readonly bytes: number;
  /** Settles when the fsync of the temp file is done; already marked handled. */
  readonly synced: Promise<void>;
}

/**
 * Atomic writes made durable together: `stage` writes each file to its temp sibling and starts
 * its fsync; `commit` waits for those, renames every file into place and syncs each directory
 * once. A batch of one is {@link writeFileAtomic}. Nothing is visible under a target name before
 * its data is on disk, and nothing claims the batch is done before `commit` resolves.
 */
export interface AtomicWriteBatchOptions {
  /** Past this many staged files, the oldest is renamed into place early (bounds open descriptors). @defaultValue 32 */
  readonly maxStaged?: number;
  /** `pool`: fsync on the thread pool; `blocking`: in place; `none`: rename only (not durable). @defaultValue 'pool' */
  readonly fsync?: 'pool' | 'blocking' | 'none';
}

const SYNCED = Promise.resolve();

export class AtomicWriteBatch {
  readonly #maxStaged: number;
  readonly #fsync: 'pool' | 'blocking' | 'none';
  readonly #staged: Staged[] = [];
  readonly #createdDirs = new Set<string>();
  readonly #renamedIn = new Set<string>();
  #placed = new Map<string, number>();

  constructor(options: AtomicWriteBatchOptions = {}) {
    this.#maxStaged = Math.max(1, options.maxStaged ?? 32);
    this.#fsync = options.fsync ?? 'pool';
  }

  /**
   * Writes `data` (a string as UTF-8) to a temp file next to `file`, creating parent directories.
   * @returns the number of bytes written
   * @throws StorageError (`E_STORAGE_IO`, `context.path` = `file`); the temp file is removed.
   */
  async stage(file: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<number> {
    if (this.#staged.length >= this.#maxStaged) await this.#finish(this.#staged.splice(0, 1));
    const target = path.resolve(file);
    const dir = path.dirname(target);
    if (!this.#createdDirs.has(dir)) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new StorageError(file, `cannot create directory ${dir}: ${(err as Error).message}`, { cause: err });
      }
      this.#createdDirs.add(dir);
    }
    const temp = path.join(dir, tempName(path.basename(target)));
    let fd: number | undefined;
    try {
      fd = openSync(temp, 'wx', 0o666);
      const bytes = writeAll(fd, typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data);
      let synced = SYNCED;
      if (this.#fsync === 'blocking') fsyncSync(fd);
      else if (this.#fsync === 'pool') {
        synced = fsyncAsync(fd);
        synced.catch(() => undefined);
      }
      this.#staged.push({ target, temp, fd, bytes, synced });
      return bytes;
    } catch (err) {
      if (fd !== undefined) closeQuietly(fd);
      rmSync(temp, { force: true });
      throw new StorageError(file, `atomic write failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Makes every staged file durable under its name.
   * @returns the size in bytes of each file placed since the last commit, by absolute path
   * @throws StorageError naming the first file that failed; the batch's other temp files are removed.
   */
  async commit(): Promise<ReadonlyMap<string, number>> {
    await this.#finish(this.#staged.splice(0));
    const dirs = [...this.#renamedIn];
    this.#renamedIn.clear();
    if (this.#fsync !== 'none') await Promise.all(dirs.map((dir) => syncDirectory(dir, dir, this.#fsync === 'blocking')));
    const placed = this.#placed;
    this.#placed = new Map();
    return placed;
  }

  /** Drops every staged file (their targets are untouched). For a failed step's cleanup. */
  abort(): void {
    for (const s of this.#staged.splice(0)) discard(s);
    this.#renamedIn.clear();
    this.#placed = new Map();
  }

  async #finish(batch: Staged[]): Promise<void> {
    const outcomes = await Promise.allSettled(batch.map((s) => s.synced));
    let failure: StorageError | undefined;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i]!;
      const outcome = outcomes[i]!;
      if (failure || outcome.status === 'rejected') {
        failure ??= new StorageError(s.target, `atomic write failed: ${(outcome as PromiseRejectedResult).reason?.message ?? 'sync failed'}`, { cause: (outcome as PromiseRejectedResult).reason });
        discard(s);
        continue;
      }
      try {
        closeSync(s.fd!);
        s.fd = undefined;
        renameSync(s.temp, s.target);
        this.#renamedIn.add(path.dirname(s.target));
        this.#placed.set(s.target, s.bytes);
      } catch (err) {
        discard(s);
        failure = new StorageError(s.target, `atomic write failed: ${(err as Error).message}`, { cause: err });
      }
    }
    if (failure) {
      this.abort();
      throw failure;
    }
  }
}

/**
 * Write `data` (a string is written as UTF-8) to `file` atomically, creating parent directories.
 *
 * `fsync` as for {@link AtomicWriteBatchOptions}.
 *
 * @throws StorageError (`E_STORAGE_IO`, `context.path` = `file`) when the directory cannot be
 *   created or the write, sync or rename fails; no temp file is left behind in that case.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string | readonly Uint8Array[], options: Pick<AtomicWriteBatchOptions, 'fsync'> = {}): Promise<void> {
  const batch = new AtomicWriteBatch({ maxStaged: 1, ...options });
  await batch.stage(file, data);
  await batch.commit();
}

/**
 * Who writes from this thread: `<pid>@<host>.<thread>`. Computed once per module instance, which
 * is once per thread (each worker thread loads its own copy).
 */
const WRITER = `${process.pid}@${hostTag()}.${threadId}`;

/**
 * A name only this call of this thread of this process on this host will use: `<pid>@<host>.<thread>.<12 hex>`.
 * Temp files and lock tokens carry it so that the sweep (stale-temp.ts) can tell whose they are;
 * `tempFileOwner` parses it back: change both together.
 */
export function writerToken(): string {
  return `${WRITER}.${randomBytes(6).toString('hex')}`;
}

/**
 * The temp sibling of a file named `base`: unique per host, process, thread and call (`token`
 * from `writerToken`), so concurrent writers of the same file never share a temp file; starts
 * with "." and ends with ".tmp" so discovery and globbing skip it.
 */
export function tempName(base: string, token: string = writerToken()): string {
  const stem = base.length > 100 ? base.slice(0, 100) : base;
  return `.${stem}.${token}.tmp`;
}

/** writev may write less than asked; continue from where it stopped. */
function writeAll(fd: number, parts: readonly Uint8Array[]): number {
  let pending = parts.filter((p) => p.byteLength > 0);
  let total = 0;
  while (pending.length > 0) {
    let written = pending.length === 1 ? writeSync(fd, pending[0]!) : writevSync(fd, pending as Uint8Array[]);
    total += written;
    const rest: Uint8Array[] = [];
    for (const part of pending) {
      if (written >= part.byteLength) written -= part.byteLength;
      else {
        rest.push(written > 0 ? part.subarray(written) : part);
        written = 0;
      }
    }
    pending = rest;
  }
  return total;
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed or never usable: nothing left to release
  }
}

function discard(s: Staged): void {
  if (s.fd !== undefined) closeQuietly(s.fd);
  s.fd = undefined;
  rmSync(s.temp, { force: true });
}

/** `.<stem>.<pid>@<host>.<thread>.<12 hex>.tmp`; host tags have no dots (see `hostTag`). */
const TEMP_NAME = /^\..+\.(\d+)@([A-Za-z0-9-]+)\.\d+\.[0-9a-f]{12}\.tmp$/;
/**
 * The format before host names were added, `.<stem>.<pid>.<thread>.<12 hex>.tmp`. The two cannot
 * be confused: in the new one the segment before the thread holds an `@`.
 */
const LEGACY_TEMP_NAME = /^\..+\.(\d+)\.\d+\.[0-9a-f]{12}\.tmp$/;

export interface TempFileOwner {
  readonly pid: number;
  /** `hostTag()` of the writer's host. */
  readonly host: string;
}

/**
 * Which process on which host wrote a temp file of ours, or undefined when the name is not one of
 * our temp files. Names of the older format (no host) are reported as this host's: that format
 * was only ever swept by pid, and its leftovers must still be removed.
 */
export function tempFileOwner(name: string): TempFileOwner | undefined {
  const match = TEMP_NAME.exec(name);
  if (match) return { pid: Number(match[1]), host: match[2]! };
  const legacy = LEGACY_TEMP_NAME.exec(name);
  return legacy ? { pid: Number(legacy[1]), host: hostTag() } : undefined;
}

/** Some filesystems cannot fsync a directory; that is a durability limit, not a failed write. */
const UNSUPPORTED_DIR_SYNC = new Set(['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP', 'EBADF', 'EACCES']);

/** Makes the renames done in `dir` durable; `file` names what was written, for the error message. */
export async function syncDirectory(dir: string, file = dir, blocking = false): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    if (blocking) fsyncSync(fd);
    else await fsyncAsync(fd);
  } catch (err) {
    if (!UNSUPPORTED_DIR_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) {
      throw new StorageError(file, `wrote the file but could not sync its directory: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
