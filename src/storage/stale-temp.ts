import type { Dirent } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../errors.js';
import { tempFileOwner, type TempFileOwner } from './atomic.js';
import { hostTag, mayBeWriter } from './process-liveness.js';

/**
 * A process killed mid-write (kill -9, OOM) leaves its temp file behind: never read, because it
 * was never renamed, but litter in the output folder. Before a run reuses an output folder, and
 * after a run whose workers died, we remove the temp files whose writer is gone.
 *
 * Which temp files are removed (names from atomic.ts, `.<name>.<pid>@<host>.<thread>.<rand>.tmp`,
 * which lock.ts uses too):
 * - written on this host by a pid that is not a writer any more: gone, a zombie (exited but not
 *   reaped, common in containers whose init does not reap), or a pid the kernel gave to a process
 *   that started after the file was last written (reused). See process-liveness.ts.
 * - written by this very process (any thread) only when asked (`includeOwn`): at the end of an
 *   interrupted run, once its workers are gone, so Ctrl-C leaves no litter. Otherwise this
 *   process's own writes are in flight and are left alone.
 * - names of the older format without a host are taken as this host's, so leftovers of earlier
 *   versions are still removed.
 *
 * Another host's temp files are never judged by pid: its pids mean nothing here, and on a shared
 * filesystem its writer may be busy with that very file. They are left in place and reported
 * (`otherHosts`), unless they were not written for `otherHostMaxAgeMs` (a day by default): a temp
 * file lives from one write to its rename, seconds, so a day-old one belongs to no live write
 * whatever the clocks of the two hosts say, and nobody else would ever remove it.
 *
 * What it cannot know: two machines that report the same host name (cloned VMs, containers given
 * the host's name but their own pid namespace) look like one host, and their pids are compared
 * as if they were ours.
 *
 * @module
 */

export interface TempSweepOptions {
  /**
   * Also remove temp files written by this process (any of its threads). Only safe once nothing
   * in this process writes any more. @defaultValue false
   */
  readonly includeOwn?: boolean;
  /** Another host's temp file not written for this long is removed. @defaultValue 86_400_000 (24 h) */
  readonly otherHostMaxAgeMs?: number;
  /**
   * Look in sub-folders too. A batch folder sweeps only its own files: each plate's folder under
   * it is swept by that plate's run. @defaultValue true
   */
  readonly recursive?: boolean;
}

export interface OtherHostTempFile extends TempFileOwner {
  readonly path: string;
  readonly mtimeMs: number;
}

export interface TempSweep {
  /** Absolute paths of the temp files removed. */
  readonly removed: readonly string[];
  /** Temp files of other hosts left in place: their writers cannot be checked from here. */
  readonly otherHosts: readonly OtherHostTempFile[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Removes the temp files under `root` whose writers are gone (see above); a missing `root` is an
 * empty sweep.
 * @throws StorageError (`E_STORAGE_IO`, `context.path` = the folder or file) when a folder cannot
 *   be listed or a stale temp file cannot be removed.
 */
export async function sweepStaleTempFiles(root: string, options: TempSweepOptions = {}): Promise<TempSweep> {
  const here = hostTag();
  const maxAgeMs = options.otherHostMaxAgeMs ?? DAY_MS;
  const removed: string[] = [];
  const otherHosts: OtherHostTempFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StorageError(dir, `cannot list folder while removing stale temp files: ${(err as Error).message}`, { cause: err });
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (options.recursive !== false) await walk(full);
        continue;
      }
      const owner = tempFileOwner(entry.name);
      if (owner === undefined) continue;
      const mtimeMs = await stat(full).then(
        (s) => s.mtimeMs,
        () => undefined, // renamed into place (or removed) by its writer meanwhile
      );
      if (mtimeMs === undefined) continue;
      let stale: boolean;
      if (owner.host !== here) {
        stale = Date.now() - mtimeMs > maxAgeMs;
        if (!stale) otherHosts.push({ path: full, ...owner, mtimeMs });
      } else if (owner.pid === process.pid) stale = options.includeOwn === true;
      else stale = !mayBeWriter(owner.pid, mtimeMs);
      if (!stale) continue;
      try {
        await rm(full, { force: true });
      } catch (err) {
        throw new StorageError(full, `cannot remove a stale temp file: ${(err as Error).message}`, { cause: err });
      }
      removed.push(full);
    }
  };
  await walk(path.resolve(root));
  return { removed, otherHosts };
}
