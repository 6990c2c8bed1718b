import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Is the process that wrote a file (a temp file, a lock) still there to finish it?
 *
 * `kill(pid, 0)` alone says yes too often: a zombie (exited, not yet reaped — common in
 * containers whose init does not reap) still answers it, and so does an unrelated process that
 * was given the same pid later. On Linux, `/proc/<pid>/stat` tells both apart: its state field is
 * `Z` (or `X`) for a dead process, and its start time shows a process born after the file was
 * last written, which therefore cannot be its writer. Elsewhere only `kill(pid, 0)` is available.
 *
 * Only pids of this host can be checked; callers compare host names first.
 *
 * @module
 */

/** The kernel reports process start times in clock ticks of USER_HZ, fixed at 100 by the /proc ABI. */
const USER_HZ = 100;

let bootTimeMs: number | undefined;

function bootTime(): number | undefined {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (match) bootTimeMs = Number(match[1]) * 1000;
  } catch {
    // no /proc: start times are unknown
  }
  return bootTimeMs;
}

export interface ProcessInfo {
  /** State letter from /proc (R, S, D, Z, …), when /proc is readable. */
  readonly state?: string;
  /** When the process started (ms since the epoch, to within 10 ms + the boot-time rounding), when known. */
  readonly startedAtMs?: number;
}

/** What /proc says of a pid, or undefined when no such process exists (or it is dead: zombie). */
export function processInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No /proc, or a /proc mounted with `hidepid`, which hides other users' live processes as
    // ENOENT: only the signal check can tell those from a pid that is gone.
    return signalZero(pid) ? {} : undefined;
  }
  // `pid (comm) state ppid … starttime`: comm may hold spaces and parentheses, so fields are
  // counted from the last ')'. starttime is field 22, i.e. the 20th after comm.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return undefined;
  const ticks = Number(fields[19]);
  const boot = bootTime();
  return { ...(state ? { state } : {}), ...(boot !== undefined && Number.isFinite(ticks) ? { startedAtMs: boot + (ticks * 1000) / USER_HZ } : {}) };
}

/**
 * True when `pid` on this host may still be the process that last wrote at `writtenAtMs`: it
 * exists, is not a zombie, and did not start after that moment (with a second of slack for the
 * clock-tick and boot-time rounding).
 */
export function mayBeWriter(pid: number, writtenAtMs?: number): boolean {
  if (pid === process.pid) return true;
  const info = processInfo(pid);
  if (info === undefined) return false;
  if (writtenAtMs !== undefined && info.startedAtMs !== undefined && info.startedAtMs > writtenAtMs + 1000) return false;
  return true;
}

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This host's name as it goes into temp-file names and lock owners: letters, digits and `-` only. */
export function hostTag(name: string = hostname()): string {
  return name.replace(/[^A-Za-z0-9-]+/g, '-').slice(0, 63) || 'host';
}
