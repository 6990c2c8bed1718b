import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempFileOwner } from './atomic.js';

/**
 * A process killed mid-write (kill -9, OOM) leaves its temp file behind: never read, because it
 * was never renamed, but litter in the output folder. Before a run reuses an output folder we
 * remove temp files whose writing process is gone. Only this host's pids can be checked, so on a
 * filesystem shared with other machines a temp file from a live remote writer could be taken for
 * stale; those runs should write to per-host output roots.
 */
export async function removeStaleTempFiles(root: string): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
        continue;
      }
      const owner = tempFileOwner(entry.name);
      if (owner !== undefined && owner !== process.pid && !isAlive(owner)) {
        await rm(full, { force: true });
        removed.push(full);
      }
    }
  };
  await walk(root);
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
