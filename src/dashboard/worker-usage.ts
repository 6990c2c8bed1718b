/**
 * RSS and CPU of the worker processes a live run reports by pid (the processes and subprocess
 * executors), read from /proc once a second by the dashboard, outside the workers. Linux only:
 * elsewhere (no /proc) nothing is read and the page shows no per-worker usage.
 *
 * A pid is read only while it is a child of this process (its PPid), so a worker that exited and
 * whose pid the system gave to another process is never shown as that process.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';

/**
 * Clock ticks per second of the utime/stime fields of /proc/<pid>/stat: USER_HZ, which the Linux
 * ABI fixes at 100 on every architecture Node runs on (the kernel's own HZ may differ; /proc converts).
 */
const USER_HZ = 100;

export interface WorkerUsage {
  readonly rssMiB: number;
  /** Of one core, over the time since the previous reading (0 at the first). */
  readonly cpuPercent: number;
}

export class WorkerUsageReader {
  readonly #last = new Map<number, { readonly cpuSeconds: number; readonly at: number }>();

  /** What each live child `pid` uses now; pids that are gone or not our children are left out. */
  async read(pids: readonly number[]): Promise<Map<number, WorkerUsage>> {
    const out = new Map<number, WorkerUsage>();
    await Promise.all(
      pids.map(async (pid) => {
        const now = performance.now() / 1000;
        const stats = await readProc(pid);
        if (!stats) {
          this.#last.delete(pid);
          return;
        }
        const last = this.#last.get(pid);
        const cpuPercent = last && now > last.at ? Math.max(0, ((stats.cpuSeconds - last.cpuSeconds) / (now - last.at)) * 100) : 0;
        this.#last.set(pid, { cpuSeconds: stats.cpuSeconds, at: now });
        out.set(pid, { rssMiB: stats.rssBytes / 1048576, cpuPercent });
      }),
    );
    return out;
  }
}

async function readProc(pid: number): Promise<{ rssBytes: number; cpuSeconds: number } | undefined> {
  try {
    const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== process.pid) return undefined;
    const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    // The command name (field 2) is in parentheses and may hold spaces or ")": fields count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, so 11 and 12 after the name (state is field 3).
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (!Number.isFinite(rssKiB) || !Number.isFinite(ticks)) return undefined;
    return { rssBytes: rssKiB * 1024, cpuSeconds: ticks / USER_HZ };
  } catch {
    return undefined;
  }
}
