/**
 * The dashboard's workers table: which worker runs which task, how many each finished, the peak
 * RSS of its last task, and, for worker processes known by pid in a live run, their RSS and CPU
 * over time (read by worker-usage.ts).
 *
 * @module
 */

/** [seconds, RSS MiB, CPU %]. */
export type UsagePoint = readonly [t: number, rssMiB: number, cpuPercent: number];

export interface WorkerView {
  /**
   * The executor's worker id (a process id under `processes` and `subprocess`); executors that do
   * not say which worker took a task (threads, serial, BullMQ, Slurm) get slots: the lowest number not busy.
   */
  readonly worker: number;
  readonly kind: 'worker' | 'slot';
  readonly plate?: string;
  readonly task?: string;
  readonly since?: number;
  readonly done: number;
  readonly lastPeakRssMiB?: number;
  /** Usage readings, oldest first: all that are kept in a snapshot, the newest in an update. */
  readonly usage?: readonly UsagePoint[];
  /** A reading found the process gone. */
  readonly gone?: true;
}

type WorkerRecord = { -readonly [K in keyof Omit<WorkerView, 'usage'>]: WorkerView[K] } & { usage?: UsagePoint[] };

/** Per worker: ten minutes of readings. */
const MAX_USAGE_POINTS = 600;

export class WorkerTable {
  readonly #workers = new Map<number, WorkerRecord>();
  /** Task key (plate index and task id) → the worker id it started on. */
  readonly #workerOf = new Map<string, number>();

  /** Task `task` of `plate` (key `key`) started on `worker`, or on the lowest free slot when the executor does not say. */
  start(key: string, plate: string, task: string, worker: number | undefined, now: number): void {
    const id = worker ?? this.#freeSlot();
    this.#workerOf.set(key, id);
    const w: WorkerRecord = this.#workers.get(id) ?? { worker: id, kind: worker !== undefined ? 'worker' : 'slot', done: 0 };
    Object.assign(w, { plate, task, since: now });
    // A pid the system gave to a new worker is read again.
    delete w.gone;
    this.#workers.set(id, w);
  }

  done(key: string, plate: string, task: string, peakRssMiB: number | undefined): void {
    const w = this.#workers.get(this.#workerOf.get(key) ?? -1);
    if (!w) return;
    w.done++;
    if (w.task === task && w.plate === plate) {
      delete w.task;
      delete w.since;
    }
    if (peakRssMiB !== undefined) w.lastPeakRssMiB = peakRssMiB;
  }

  /** The tasks of `plate` no longer run anywhere (the plate is being run again from the start). */
  forget(plate: string): void {
    for (const w of this.#workers.values()) {
      if (w.plate !== plate) continue;
      delete w.task;
      delete w.since;
    }
  }

  /** The workers known by pid, busy or idle, unless a reading found them gone. */
  pids(): number[] {
    return [...this.#workers.values()].filter((w) => w.kind === 'worker' && !w.gone).map((w) => w.worker);
  }

  /** Readings taken at `t` of the workers `asked` for; an asked pid without a reading has exited. Whether anything changed. */
  usage(asked: readonly number[], readings: ReadonlyMap<number, { readonly rssMiB: number; readonly cpuPercent: number }>, t: number): boolean {
    let changed = false;
    for (const pid of asked) {
      const w = this.#workers.get(pid);
      if (!w || w.kind !== 'worker') continue;
      const u = readings.get(pid);
      changed = true;
      if (!u) {
        // Not read again (subprocess: one pid per task, thousands) until a task starts on it.
        w.gone = true;
        continue;
      }
      w.usage ??= [];
      w.usage.push([t, u.rssMiB, u.cpuPercent]);
      if (w.usage.length > MAX_USAGE_POINTS) w.usage.splice(0, w.usage.length - MAX_USAGE_POINTS);
    }
    return changed;
  }

  /** Every worker; with `newestUsage`, only each one's newest reading (what an update carries). */
  views(newestUsage = false): WorkerView[] {
    return [...this.#workers.values()].map((w) => (newestUsage && w.usage ? { ...w, usage: w.usage.slice(-1) } : w));
  }

  #freeSlot(): number {
    let slot = 0;
    while (this.#workers.get(slot)?.task !== undefined) slot++;
    return slot;
  }
}
