import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { StorageError } from '../errors.js';

/**
 * Crash-safe file replacement.
 *
 * Outputs of a run that is killed at hour 5 must be either the old file or the complete new one,
 * because resume trusts whatever exists. So data goes to a temp file in the *same* directory
 * (rename is only atomic within one filesystem), is fsynced before the rename (otherwise a power
 * loss can leave the new name pointing at an empty inode), and the directory is fsynced after it
 * (otherwise the rename itself may be lost). On any failure the temp file is removed.
 *
 * @module
 */

export interface WriteFileAtomicOptions {
  /** File mode for a newly created file. @defaultValue 0o666 (minus umask) */
  readonly mode?: number;
  /**
   * Skip the fsync of the directory after the rename. For a batch of files in one directory the
   * caller then calls {@link syncDirectory} once, before anything that claims the files exist:
   * one directory sync instead of one per file. @defaultValue true (sync)
   */
  readonly syncDirectory?: boolean;
}

/**
 * Write `data` (a string is written as UTF-8) to `file` atomically, creating parent directories.
 *
 * @throws StorageError (`E_STORAGE_IO`, `context.path` = `file`) when the directory cannot be
 *   created or the write, sync or rename fails; no temp file is left behind in that case.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string | readonly Uint8Array[], opts: WriteFileAtomicOptions = {}): Promise<void> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new StorageError(file, `cannot create directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const temp = path.join(dir, tempName(path.basename(target)));
  let handle;
  try {
    handle = await open(temp, 'wx', opts.mode ?? 0o666);
    if (Array.isArray(data)) await writeAll(handle, data as readonly Uint8Array[]);
    else await handle.writeFile(data as Uint8Array | string);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw new StorageError(file, `atomic write failed: ${(err as Error).message}`, { cause: err });
  }
  if (opts.syncDirectory !== false) await syncDirectory(dir, file);
}

/**
 * Unique per process, thread and call, so concurrent writers of the same file never share a temp
 * file; starts with "." and ends with ".tmp" so discovery and globbing skip it. `tempFileOwner`
 * (used to clean up after killed writers) parses this format: change both together.
 */
function tempName(base: string): string {
  const stem = base.length > 100 ? base.slice(0, 100) : base;
  return `.${stem}.${process.pid}.${threadId}.${randomBytes(6).toString('hex')}.tmp`;
}

/** writev may write less than asked; continue from where it stopped. */
async function writeAll(handle: FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  let pending = parts.filter((p) => p.byteLength > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending as Uint8Array[]);
    const rest: Uint8Array[] = [];
    for (const part of pending) {
      if (bytesWritten >= part.byteLength) bytesWritten -= part.byteLength;
      else {
        rest.push(bytesWritten > 0 ? part.subarray(bytesWritten) : part);
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

const TEMP_NAME = /^\..+\.(\d+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** The pid that wrote a temp file of ours, or undefined when the name is not one of our temp files. */
export function tempFileOwner(name: string): number | undefined {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Some filesystems cannot fsync a directory; that is a durability limit, not a failed write. */
const UNSUPPORTED_DIR_SYNC = new Set(['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP', 'EBADF', 'EACCES']);

/** Makes the renames done in `dir` durable; `file` names what was written, for the error message. */
export async function syncDirectory(dir: string, file = dir): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!UNSUPPORTED_DIR_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) {
      throw new StorageError(file, `wrote the file but could not sync its directory: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
