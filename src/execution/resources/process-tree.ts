/**
 * One reading of a process tree on Linux: a root process and every descendant (worker processes,
 * a subprocess per task, Python bridges under any of them), with each one's resident set, read
 * from /proc. Used by the run's peak-RSS sampler (peak-rss.ts); elsewhere there is no /proc and
 * `read()` returns undefined.
 *
 * Descendants are found by their parent pid: `/proc/<pid>/task/<tid>/children` would be cheaper
 * but needs CONFIG_PROC_CHILDREN, which common kernels (this VM's among them) lack. Reading the
 * status of every process on the host at each sample costs ≈ 20 µs a process (1–10 ms on a busy
 * host), so a process seen outside the tree is remembered with its parent and not read again
 * while its pid stays listed: a process leaves its parent only for a reaper (init or a
 * subreaper), never for a member of the tree, so an outsider cannot become a member. The hole: an
 * outsider that exits and whose pid a new descendant of ours receives before the next reading,
 * which with sequential pid allocation needs the whole pid space to wrap within one interval.
 *
 * Per process, `status` gives the parent pid, VmRSS (the counter `ps`, `top` and statm show:
 * anonymous + file-backed + shared-memory pages) and VmHWM (its high-water mark, the figure
 * getrusage's ru_maxrss and `/usr/bin/time` report), in one read that takes no mmap lock, unlike
 * smaps_rollup.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProcessReading {
  readonly pid: number;
  readonly ppid: number;
  /** Resident now (VmRSS); 0 for a zombie. */
  readonly rssBytes: number;
  /** The process's own high-water mark (VmHWM) since it started or last reset it (clear_refs). */
  readonly peakRssBytes: number;
}

/** Reads the tree under one root again and again, remembering which processes are not in it. */
export class ProcessTreeReader {
  readonly #root: number;
  readonly #procDir: string;
  /** pid → parent pid of the processes outside the tree at the last reading (-1: unreadable). */
  #outsiders = new Map<number, number>();

  constructor(root: number = process.pid, procDir = '/proc') {
    this.#root = root;
    this.#procDir = procDir;
  }

  /** The root and its live descendants now, root first; undefined when /proc or the root cannot be read. */
  read(): ProcessReading[] | undefined {
    let entries: string[];
    try {
      entries = readdirSync(this.#procDir);
    } catch {
      return undefined;
    }
    const parentOf = new Map<number, number>();
    const readings = new Map<number, ProcessReading>();
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      const known = this.#outsiders.get(pid);
      if (known !== undefined) {
        parentOf.set(pid, known);
        continue;
      }
      const reading = readStatus(this.#procDir, pid);
      parentOf.set(pid, reading?.ppid ?? -1);
      if (reading) readings.set(pid, reading);
    }
    if (!readings.has(this.#root)) return undefined;

    const children = new Map<number, number[]>();
    for (const [pid, ppid] of parentOf) {
      const list = children.get(ppid);
      if (list) list.push(pid);
      else children.set(ppid, [pid]);
    }
    const members: ProcessReading[] = [];
    const inTree = new Set<number>();
    const queue = [this.#root];
    for (let i = 0; i < queue.length; i++) {
      const pid = queue[i]!;
      // No reading: a remembered outsider whose parent pid now names a member, which only pid
      // reuse (the gap above) can produce; left out rather than counted on stale evidence.
      const reading = readings.get(pid);
      if (!reading || inTree.has(pid)) continue;
      inTree.add(pid);
      members.push(reading);
      for (const child of children.get(pid) ?? []) queue.push(child);
    }
    const outsiders = new Map<number, number>();
    for (const [pid, ppid] of parentOf) if (!inTree.has(pid)) outsiders.set(pid, ppid);
    this.#outsiders = outsiders;
    return members;
  }
}

/** True where /proc describes the process `pid` (Linux). */
export function hasProcTree(procDir = '/proc', pid: number = process.pid): boolean {
  return readStatus(procDir, pid) !== undefined;
}

function readStatus(procDir: string, pid: number): ProcessReading | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(procDir, String(pid), 'status'), 'latin1');
  } catch {
    // Exited since the listing, or not ours to read (hidepid).
    return undefined;
  }
  const ppid = PPID.exec(text)?.[1];
  if (ppid === undefined) return undefined;
  return { pid, ppid: Number(ppid), rssBytes: kib(VM_RSS.exec(text)?.[1]), peakRssBytes: kib(VM_HWM.exec(text)?.[1]) };
}

const PPID = /^PPid:\s+(\d+)/m;
const VM_RSS = /^VmRSS:\s+(\d+) kB/m;
const VM_HWM = /^VmHWM:\s+(\d+) kB/m;

/** Kernel threads and zombies have no Vm* lines: nothing resident. */
function kib(value: string | undefined): number {
  return value === undefined ? 0 : Number(value) * 1024;
}
