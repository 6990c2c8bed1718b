/**
 * One run per output folder at a time. Two runs writing into one `--out` would each believe the
 * folder is theirs: images of one pipeline next to images of another, and `results.json` and
 * `measurements.csv` of whichever finished last, with both runs saying "No problems". So a run
 * holds `<out>/.plateflow/run.lock` from before it reads a checkpoint until after its results are
 * written, and a second run refuses to start, naming the holder.
 *
 * The lock records pid, host, start time and command line. A lock left by a run that is gone
 * (kill -9, power loss) is taken over with a message: on this host, a dead, zombie or reused pid
 * says so at once; for a holder on another host (a shared filesystem) only its heartbeat can,
 * so such a lock is taken over once it has not been touched for {@link STALE_MS}.
 *
 * Taking the lock is also the first write into the output folder, so a read-only or full
 * filesystem is reported here, before any task starts, instead of by every task in turn.
 *
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PlateflowError, StorageError } from '../errors.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import { LockBusyError, acquireFileLock, type FileLock, type LockOwner } from '../storage/lock.js';

export const RUN_LOCK_FILE = 'run.lock';

/** A holder on another host that has not touched its lock for this long is taken to be gone. */
const STALE_MS = 10 * 60_000;

/** Another run holds the output folder. */
export class OutputLockedError extends PlateflowError {
  constructor(
    readonly outputRoot: string,
    readonly owner: LockOwner | undefined,
  ) {
    const command = owner?.info?.['command'];
    const who = owner ? `pid ${owner.pid} on ${owner.hostname}, started ${owner.acquiredAt}${command ? `: ${command}` : ''}` : 'an unknown process';
    super('E_OUTPUT_LOCKED', `output folder ${outputRoot} is in use by another plateflow run (${who}); wait for it to finish or choose another --out`, {
      path: outputRoot,
      ...(owner ? { pid: owner.pid, host: owner.hostname, since: owner.acquiredAt } : {}),
    });
    this.name = 'OutputLockedError';
  }
}

export interface OutputLockOptions {
  /** Told when the lock of a run that is gone is taken over. */
  readonly warn?: (message: string) => void;
  /** Recorded for whoever finds the folder taken. @defaultValue this process's command line */
  readonly command?: string;
}

/**
 * Takes the output folder for this run (creating it), without waiting.
 *
 * @throws OutputLockedError E_OUTPUT_LOCKED naming the live holder
 * @throws StorageError E_OUTPUT_UNWRITABLE when the folder cannot be created or written (read-only, full, no permission)
 */
export async function lockOutputFolder(outputRoot: string, options: OutputLockOptions = {}): Promise<FileLock> {
  const root = path.resolve(outputRoot);
  const lockDir = path.join(root, CHECKPOINT_DIR);
  try {
    makeFolders(lockDir);
  } catch (err) {
    throw unwritable(root, err);
  }
  const command = options.command ?? [path.basename(process.argv[1] ?? process.argv0), ...process.argv.slice(2)].join(' ');
  try {
    return await acquireFileLock(path.join(lockDir, RUN_LOCK_FILE), {
      timeoutMs: 0,
      staleMs: STALE_MS,
      info: { command },
      onStaleBroken: (owner) =>
        options.warn?.(
          `output folder ${root}: took over the lock of an earlier run that is gone (${owner ? `pid ${owner.pid} on ${owner.hostname}, started ${owner.acquiredAt}` : 'owner unreadable'}); it was interrupted, so its finished tasks are resumed and the rest recomputed`,
        ),
    });
  } catch (err) {
    if (err instanceof LockBusyError) throw new OutputLockedError(root, err.owner);
    throw unwritable(root, err instanceof StorageError && err.cause !== undefined ? err.cause : err);
  }
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir reports ENOENT when a level cannot be
 * created on a read-only file system, which reads as "the path is wrong" instead of the cause.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let probe = dir; !existsSync(probe); probe = path.dirname(probe)) {
    missing.push(probe);
    if (path.dirname(probe) === probe) break;
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Why the output folder cannot take a file, in words, with the system's code. */
function unwritable(root: string, err: unknown): PlateflowError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EROFS' ? 'it is on a read-only file system'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on its file system'
    : code === 'EDQUOT' ? 'disk quota exceeded'
    : code === 'ENOTDIR' ? 'a file, not a folder, is in the way'
    : (err as Error).message;
  return new PlateflowError('E_OUTPUT_UNWRITABLE', `cannot write to output folder ${root}: ${why}${code ? ` (${code})` : ''}`, { path: root, ...(code ? { errno: code } : {}) }, { cause: err });
}
