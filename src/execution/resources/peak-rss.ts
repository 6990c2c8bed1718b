/**
 * The peak memory of a run: this process and every process under it (worker processes, a
 * subprocess per task, Python bridges), sampled from /proc on a timer while any watch is open.
 *
 * Two figures, because they answer different questions:
 * - `treeBytes`, the most resident memory the tree held at once (the sum of its processes' RSS at
 *   the busiest sample): what the run needs from the machine.
 * - `largestProcessBytes`, the largest single process's own high-water mark: what
 *   `/usr/bin/time -v` prints as "Maximum resident set size" (getrusage's ru_maxrss, the largest
 *   over the process and the descendants it waited for, not a sum). With the threads or serial
 *   executor the tree is one process and the two agree.
 *
 * A sum between two samples is not seen, so `treeBytes` is at least `largestProcessBytes`: the
 * kernel's marks (this process's maxRSS and each live descendant's VmHWM) catch the peaks of one
 * process between samples, and a tree never holds less than one of its processes. Pages shared
 * between processes (the node binary's code, shared-memory arrays) count once per process, as
 * `ps` and `top` count them.
 *
 * Without /proc (macOS, Windows) only this process is measured: its maxRSS (`method: 'self'`).
 *
 * @module
 */
import { hasProcTree, ProcessTreeReader } from './process-tree.js';

/** What results.json records as the run's `peakRss`. */
export interface RunPeakRss {
  /** Most resident memory the process tree held at one sample (never below `largestProcessBytes`). */
  readonly treeBytes: number;
  /** The largest single process's high-water mark: what `/usr/bin/time -v` reports. */
  readonly largestProcessBytes: number;
  /** `proc`: the tree sampled from /proc; `self`: no /proc, this process's own peak only. */
  readonly method: 'proc' | 'self';
  /** Most processes in the tree at one sample (1 for `self`). */
  readonly processes: number;
  /** Readings of the tree taken while the watch was open. */
  readonly samples: number;
  /** Time between readings (`proc` only). */
  readonly intervalMs?: number;
}

export interface PeakRssWatch {
  /** Takes a last reading and returns the peak since the watch began; idempotent. */
  stop(): RunPeakRss;
}

export interface PeakRssSamplerOptions {
  /** @defaultValue 200 */
  readonly intervalMs?: number;
  /** @defaultValue this process */
  readonly root?: number;
  /** @defaultValue '/proc' */
  readonly procDir?: string;
  /** The root's own peak where /proc is missing. @defaultValue this process's maxRSS; 0 for another root */
  readonly ownPeakBytes?: () => number;
}

interface Peaks {
  treeBytes: number;
  largestProcessBytes: number;
  processes: number;
  samples: number;
}

/**
 * One timer for every open watch, so the overlapping plates of a batch and the batch itself do not
 * each read /proc. The timer is unref'd: it never keeps a finished run's process alive.
 */
export class PeakRssSampler {
  readonly #intervalMs: number;
  readonly #reader: ProcessTreeReader | undefined;
  readonly #ownPeakBytes: () => number;
  readonly #open = new Set<Peaks>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: PeakRssSamplerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 200;
    const procDir = options.procDir ?? '/proc';
    const root = options.root ?? process.pid;
    this.#reader = hasProcTree(procDir, root) ? new ProcessTreeReader(root, procDir) : undefined;
    this.#ownPeakBytes = options.ownPeakBytes ?? (root === process.pid ? () => process.resourceUsage().maxRSS * 1024 : () => 0);
  }

  /** Starts measuring now (a first reading at once); the returned watch reports the peak when stopped. */
  watch(): PeakRssWatch {
    const peaks: Peaks = { treeBytes: 0, largestProcessBytes: 0, processes: 0, samples: 0 };
    this.#open.add(peaks);
    this.#sample();
    if (this.#reader && !this.#timer) {
      this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
      this.#timer.unref();
    }
    let result: RunPeakRss | undefined;
    return {
      stop: () => {
        if (result) return result;
        this.#sample();
        this.#open.delete(peaks);
        if (this.#open.size === 0 && this.#timer) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
        result = this.#result(peaks);
        return result;
      },
    };
  }

  #sample(): void {
    const tree = this.#reader?.read();
    if (!tree) return;
    let sum = 0;
    let largest = 0;
    for (const p of tree) {
      sum += p.rssBytes;
      largest = Math.max(largest, p.peakRssBytes, p.rssBytes);
    }
    for (const peaks of this.#open) {
      peaks.treeBytes = Math.max(peaks.treeBytes, sum);
      peaks.largestProcessBytes = Math.max(peaks.largestProcessBytes, largest);
      peaks.processes = Math.max(peaks.processes, tree.length);
      peaks.samples++;
    }
  }

  #result(peaks: Peaks): RunPeakRss {
    const largestProcessBytes = Math.max(peaks.largestProcessBytes, this.#ownPeakBytes());
    if (!this.#reader || peaks.samples === 0) {
      return { treeBytes: largestProcessBytes, largestProcessBytes, method: 'self', processes: 1, samples: 0 };
    }
    return {
      treeBytes: Math.max(peaks.treeBytes, largestProcessBytes),
      largestProcessBytes,
      method: 'proc',
      processes: peaks.processes,
      samples: peaks.samples,
      intervalMs: this.#intervalMs,
    };
  }
}

let shared: PeakRssSampler | undefined;

/** Watches the peak RSS of this process's tree with the process-wide sampler. */
export function watchPeakRss(): PeakRssWatch {
  shared ??= new PeakRssSampler();
  return shared.watch();
}
