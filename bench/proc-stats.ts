/**
 * What a Python bridge process holds, read from /proc and /dev/shm (Linux only): enough to show
 * that memory and shared-memory files do not grow with the number of calls.
 *
 * The arena file is unlinked the moment it is created (src/python/arena.ts), so it never shows in
 * a listing of /dev/shm: its size is read through the bridge's fd 5 instead, and the space all
 * such files take shows only in the tmpfs's used bytes.
 */
import { readdirSync, readFileSync, readlinkSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';

const SHM = '/dev/shm';
/** The fd the bridge is given its arena on (src/python/process.ts), and its file's name (arena.ts). */
const ARENA_FD = 5;
const ARENA_PREFIX = 'plateflow-py-';

/** The pids of the plateflow_bridge.py processes this Node process (any of its threads) started. */
export function bridgePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('plateflow_bridge.py')) pids.push(Number(entry));
    } catch {
      // it ended between the listing and the read
    }
  }
  return pids;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux for x86 and arm). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) of this process's children that have ended and been waited for:
 * a peer run by spawnSync, the Python processes of an executor once it is closed.
 */
export function endedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name; cutime and cstime are fields 16 and 17 of proc(5).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ;
}

/** CPU time (user + system, ms) `pid` has used so far, also once it is a zombie; undefined once reaped. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // utime and stime are fields 14 and 15 of proc(5).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Resident memory of `pid` in KiB (VmRSS), or undefined once it has gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The size of the bridge's (unlinked) arena file; undefined once it has gone, or for a probe (no arena). */
export function arenaBytes(pid: number): number | undefined {
  const fd = `/proc/${pid}/fd/${ARENA_FD}`;
  try {
    // A probe's fd 5, if any, is some file Python opened: only an arena has this name.
    if (!readlinkSync(fd).includes(ARENA_PREFIX)) return undefined;
    return statSync(fd).size;
  } catch {
    return undefined;
  }
}

export interface ShmSnapshot {
  /** Entries a listing of /dev/shm shows, and their total size. */
  readonly entries: number;
  readonly bytes: number;
  /** The tmpfs's used bytes: includes unlinked files still open, such as live arenas. */
  readonly usedBytes: number;
}

export function shmSnapshot(): ShmSnapshot {
  let entries = 0;
  let bytes = 0;
  for (const name of readdirSync(SHM)) {
    try {
      bytes += statSync(path.join(SHM, name)).size;
      entries++;
    } catch {
      // removed meanwhile
    }
  }
  const fs = statfsSync(SHM);
  return { entries, bytes, usedBytes: (fs.blocks - fs.bfree) * fs.bsize };
}

export function describeShm(s: ShmSnapshot): string {
  return `${s.entries} entries, ${kib(s.bytes)} listed, ${kib(s.usedBytes)} used`;
}

export function kib(bytes: number): string {
  return `${Math.round(bytes / 1024)} KiB`;
}

/** What one bridge process held during a run: peak and final RSS (KiB), largest arena (bytes). */
export interface BridgeUse {
  readonly peakKiB: number;
  readonly endKiB: number;
  readonly arenaBytes: number;
}

/** Reads every bridge process with an arena (the probe has none) every 100 ms while a run lasts. */
export class BridgeSampler {
  readonly #seen = new Map<number, BridgeUse>();
  readonly #timer = setInterval(() => this.#sample(), 100);
  readonly #childrenAtStart = endedChildrenCpuMs();
  /** What bridges already running (a warm pool's) had used before: not this run's. */
  readonly #cpuAtStart = new Map(bridgePids().map((pid) => [pid, cpuMs(pid) ?? 0]));
  #result: BridgeUse[] | undefined;

  /**
   * CPU ms the Python processes used since this sampler started, once they have all exited: a
   * reaped one is in our children's time; one nobody reaped yet (a zombie whose worker thread
   * ended first) still shows its own.
   */
  pythonCpuMs(): number {
    let total = endedChildrenCpuMs() - this.#childrenAtStart;
    for (const pid of this.#seen.keys()) total += (cpuMs(pid) ?? 0) - (this.#cpuAtStart.get(pid) ?? 0);
    return total;
  }

  /** The last reading of every bridge seen; the first call takes a final sample, later ones repeat it. */
  stop(): BridgeUse[] {
    if (!this.#result) {
      clearInterval(this.#timer);
      this.#sample();
      this.#result = [...this.#seen.values()];
    }
    return this.#result;
  }

  #sample(): void {
    for (const pid of bridgePids()) {
      const arena = arenaBytes(pid);
      const rss = rssKiB(pid);
      if (arena === undefined || rss === undefined) continue;
      const seen = this.#seen.get(pid);
      this.#seen.set(pid, { peakKiB: Math.max(seen?.peakKiB ?? 0, rss), endKiB: rss, arenaBytes: Math.max(seen?.arenaBytes ?? 0, arena) });
    }
  }
}
