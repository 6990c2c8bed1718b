/**
 * What the dashboard knows about a run, fed by the run's own events (`task:start`, `task:done`,
 * `log`) and by each plate's plan (its tasks, before any runs), and read as a whole (`snapshot`,
 * for a page that connects) or as what changed since the last read (`takeUpdate`, for the pages
 * already watching). Updates carry absolute values (a task's status, the totals), never
 * increments, so a page that applies one twice, or one from before its snapshot, ends up right.
 *
 * @module
 */
import type { SerializedError } from '../errors.js';
import type { RunEvent } from '../execution/executor.js';
import type { TaskResult } from '../execution/result.js';
import type { PlateGrid } from '../microscopes/types.js';
import { formatErrorLines } from '../report/problems.js';
import { elapsed, etaSeconds, imagesPerSecond, markDone, markStarted, newPlateProgress, type PlateProgress } from '../report/progress-state.js';
import { mapLayout, type MapLayout } from '../report/map-layout.js';
import { BASE_METRICS, measurementMetric, taskValues, type LiveMetric } from './task-values.js';
import { WorkerTable } from './workers.js';

export type LiveStatus = 'waiting' | 'running' | 'ok' | 'resumed' | 'error' | 'killed' | 'timeout' | 'cancelled' | 'skipped';

/** An input plane of a task, for its thumbnail: an absolute file the plan names, never a path from a request. */
export interface InputImage {
  readonly file: string;
  readonly page?: number;
  readonly label: string;
}

export interface PlannedTask {
  readonly id: string;
  readonly axis: Readonly<Record<string, string>>;
  readonly inputs?: readonly InputImage[];
}

/** One plate as planned: what the map is drawn from before any task ends. */
export interface PlateInfo {
  readonly name: string;
  readonly root: string;
  readonly format: string;
  readonly axis: readonly string[];
  readonly wells: readonly string[];
  readonly grid?: PlateGrid | null;
  readonly outputRoot: string;
  readonly steps: readonly string[];
  readonly tasks: readonly PlannedTask[];
}

interface TaskState {
  readonly planned: PlannedTask;
  readonly cell: number;
  status: LiveStatus;
  worker?: number;
  result?: TaskResult;
  values?: Record<string, number>;
}

export interface PlateState {
  readonly index: number;
  readonly info: PlateInfo;
  readonly layout: MapLayout;
  readonly tasks: Map<string, TaskState>;
  readonly progress: PlateProgress;
}

export interface TaskView {
  readonly p: number;
  readonly id: string;
  /** Cell index, -1 when the task has no place on the grid. */
  readonly c: number;
  readonly s: LiveStatus;
  readonly w?: number;
  readonly v?: Record<string, number>;
}

export interface ProblemView {
  readonly n: number;
  readonly plate: string;
  readonly task: string;
  readonly status: LiveStatus;
  readonly lines: readonly string[];
}

export interface Totals {
  readonly tasks: number;
  readonly done: number;
  readonly ok: number;
  readonly resumed: number;
  readonly failed: number;
  readonly notRun: number;
  readonly running: number;
  readonly images: number;
  readonly elapsed: number;
  readonly imagesPerSecond: number;
  readonly eta: number | null;
}

export interface RunInfo {
  readonly title: string;
  /** Whether Stop means anything (a live run); a finished folder has nothing to stop. */
  readonly canStop: boolean;
  readonly state: 'running' | 'stopping' | 'finished';
  readonly now: number;
}

/** Seconds since the dashboard started; the images counted by then; the CLI process's RSS and CPU when live. */
export interface Sample {
  readonly t: number;
  readonly images: number;
  readonly done: number;
  readonly rssMiB?: number;
  readonly cpuPercent?: number;
}

export interface DashboardStateOptions {
  readonly title: string;
  readonly canStop: boolean;
  /** Seconds; injectable for tests. @defaultValue performance.now() / 1000 */
  readonly now?: () => number;
}

const MAX_SAMPLES = 900;

export class DashboardState {
  readonly #plates: PlateState[] = [];
  readonly #byName = new Map<string, PlateState>();
  readonly #overall = newPlateProgress('');
  readonly #metrics = new Map<string, LiveMetric>(BASE_METRICS.map((m) => [m.key, m]));
  readonly #workers = new WorkerTable();
  #problems: ProblemView[] = [];
  readonly #logs: string[] = [];
  readonly #samples: Sample[] = [];
  readonly #now: () => number;
  readonly #title: string;
  readonly #canStop: boolean;
  #runState: RunInfo['state'] = 'running';
  /** What changed since the last `takeUpdate`. */
  #dirtyTasks = new Map<TaskState, number>();
  #structureChanged = false;
  #metricsChanged = false;
  #sent = { problems: 0, logs: 0, samples: 0 };
  #dirty = false;

  constructor(options: DashboardStateOptions) {
    this.#title = options.title;
    this.#canStop = options.canStop;
    this.#now = options.now ?? (() => performance.now() / 1000);
  }

  plate(index: number): PlateState | undefined {
    return this.#plates[index];
  }

  /** A plate's tasks, before they run. Planning a plate again (a resumed folder read anew) replaces it. */
  plan(info: PlateInfo): void {
    const layout = mapLayout({ axis: info.axis, wells: info.wells, grid: info.grid ?? null, tasks: info.tasks });
    const old = this.#byName.get(info.name);
    const index = old?.index ?? this.#plates.length;
    const plate: PlateState = { index, info, layout, tasks: new Map(), progress: newPlateProgress(info.name, info.tasks.length) };
    for (const t of info.tasks) plate.tasks.set(t.id, { planned: t, cell: layout.cellOf.get(t.id) ?? -1, status: 'waiting' });
    this.#plates[index] = plate;
    this.#byName.set(info.name, plate);
    if (old) this.#forget(old);
    this.#overall.total = this.#plates.reduce((n, p) => n + p.info.tasks.length, 0);
    this.#structureChanged = this.#dirty = true;
  }

  /** A plate run again from the start (a new run into a followed folder): what the old run counted goes. */
  #forget(old: PlateState): void {
    const now = this.#now();
    const fresh = newPlateProgress('', this.#overall.total);
    fresh.startedAt = this.#overall.startedAt;
    Object.assign(this.#overall, fresh);
    for (const p of this.#plates) {
      for (const t of p.tasks.values()) {
        const key = `${p.index}\u0000${t.planned.id}`;
        if (t.result) markDone(this.#overall, { ...t.result, taskId: key }, now);
        else if (t.status === 'running') markStarted(this.#overall, key, now);
      }
    }
    this.#workers.forget(old.info.name);
    this.#problems = this.#problems.filter((x) => x.plate !== old.info.name).map((x, n) => ({ ...x, n }));
  }

  /** A run event of plate `plateName` (the first plate when omitted). Events of unplanned tasks are ignored. */
  event(event: RunEvent, plateName?: string): void {
    const plate = plateName !== undefined ? this.#byName.get(plateName) : this.#plates[0];
    if (event.type === 'log') {
      this.#logs.push(`${event.level === 'warn' ? 'warning: ' : ''}${plateName && this.#plates.length > 1 ? `${plateName}: ` : ''}${event.message}`);
      this.#dirty = true;
      return;
    }
    if (!plate) return;
    const now = this.#now();
    if (event.type === 'task:start') {
      const task = plate.tasks.get(event.taskId);
      if (!task) return;
      task.status = 'running';
      markStarted(plate.progress, event.taskId, now);
      markStarted(this.#overall, `${plate.index}\u0000${event.taskId}`, now);
      if (event.worker !== undefined) task.worker = event.worker;
      this.#workers.start(`${plate.index}\u0000${event.taskId}`, plate.info.name, event.taskId, event.worker, now);
      this.#touch(plate, task);
    } else if (event.type === 'task:done') {
      this.#done(plate, event.result, now);
    }
  }

  /** The run is being stopped (Ctrl-C or the page's Stop), or is over. */
  setRunState(state: RunInfo['state']): void {
    if (this.#runState === 'finished') return;
    this.#runState = state;
    this.#dirty = true;
  }

  /** Records throughput (and, when given, the process's RSS and CPU) once per call; called about once a second. */
  sample(process?: { rssMiB: number; cpuPercent: number }): void {
    this.#samples.push({ t: round(this.#now()), images: this.#overall.images, done: this.#overall.done, ...(process ? { rssMiB: round(process.rssMiB), cpuPercent: round(process.cpuPercent) } : {}) });
    // A day-long run keeps its whole curve at a coarser grain rather than only its last minutes.
    if (this.#samples.length > MAX_SAMPLES) {
      const kept = this.#samples.filter((_, i) => i % 2 === 0 || i === this.#samples.length - 1);
      this.#samples.splice(0, this.#samples.length, ...kept);
      this.#sent.samples = 0;
      this.#structureChanged = true;
    }
    this.#dirty = true;
  }

  /** The worker processes known by pid (processes, subprocess executors) that are still there. */
  workerPids(): number[] {
    return this.#workers.pids();
  }

  /** Readings of the RSS and CPU of the workers `asked` for, taken now; an asked pid without a reading has exited. */
  workerUsage(asked: readonly number[], readings: ReadonlyMap<number, { readonly rssMiB: number; readonly cpuPercent: number }>): void {
    const rounded = new Map([...readings].map(([pid, u]) => [pid, { rssMiB: round(u.rssMiB), cpuPercent: round(u.cpuPercent) }]));
    if (this.#workers.usage(asked, rounded, round(this.#now()))) this.#dirty = true;
  }

  /** Everything, for a page that (re)connects. */
  snapshot(): Record<string, unknown> {
    return {
      run: this.#runInfo(),
      metrics: [...this.#metrics.values()],
      plates: this.#plates.map((p) => ({ ...this.#plateView(p), tasks: [...p.tasks.values()].map((t) => this.#taskView(p.index, t)) })),
      totals: this.#totals(this.#overall),
      samples: this.#samples,
      workers: this.#workers.views(),
      problems: this.#problems,
      logs: this.#logs.slice(-200),
    };
  }

  /**
   * What changed since the last call, or a whole snapshot (`type: 'snapshot'`) when the shape did
   * (a plate planned, the samples thinned); undefined when nothing changed.
   */
  takeUpdate(): { type: 'snapshot' | 'update'; data: Record<string, unknown> } | undefined {
    if (!this.#dirty) return undefined;
    this.#dirty = false;
    if (this.#structureChanged) {
      this.#structureChanged = this.#metricsChanged = false;
      this.#dirtyTasks.clear();
      this.#sent = { problems: this.#problems.length, logs: this.#logs.length, samples: this.#samples.length };
      return { type: 'snapshot', data: this.snapshot() };
    }
    const data = {
      run: this.#runInfo(),
      ...(this.#metricsChanged ? { metrics: [...this.#metrics.values()] } : {}),
      tasks: [...this.#dirtyTasks].map(([t, plate]) => this.#taskView(plate, t)),
      plateTotals: this.#plates.map((p) => this.#totals(p.progress)),
      totals: this.#totals(this.#overall),
      samples: this.#samples.slice(this.#sent.samples),
      workers: this.#workers.views(true),
      problems: this.#problems.slice(this.#sent.problems),
      logs: this.#logs.slice(this.#sent.logs),
    };
    this.#metricsChanged = false;
    this.#dirtyTasks = new Map();
    this.#sent = { problems: this.#problems.length, logs: this.#logs.length, samples: this.#samples.length };
    return { type: 'update', data };
  }

  /** A task's full record for the well panel; undefined for an unknown task. */
  task(plateIndex: number, taskId: string): { plate: PlateState; planned: PlannedTask; status: LiveStatus; worker?: number; result?: TaskResult } | undefined {
    const plate = this.#plates[plateIndex];
    const t = plate?.tasks.get(taskId);
    if (!plate || !t) return undefined;
    return { plate, planned: t.planned, status: t.status, ...(t.worker !== undefined ? { worker: t.worker } : {}), ...(t.result ? { result: t.result } : {}) };
  }

  #done(plate: PlateState, result: TaskResult, now: number): void {
    const task = plate.tasks.get(result.taskId);
    if (!task) return;
    // A task reported twice (a batch folder re-read) counts once.
    if (task.result) return;
    task.result = result;
    task.status = result.status === 'ok' && result.resumed === 'task' ? 'resumed' : result.status;
    task.values = taskValues(result);
    for (const key of Object.keys(task.values)) {
      if (!this.#metrics.has(key)) {
        this.#metrics.set(key, measurementMetric(key));
        this.#metricsChanged = true;
      }
    }
    markDone(plate.progress, result, now);
    markDone(this.#overall, { ...result, taskId: `${plate.index}\u0000${result.taskId}` }, now);
    this.#workers.done(`${plate.index}\u0000${result.taskId}`, plate.info.name, result.taskId, result.peakRssBytes !== undefined ? round(result.peakRssBytes / (1024 * 1024)) : undefined);
    if (result.status !== 'ok') this.#problems.push({ n: this.#problems.length, plate: plate.info.name, task: result.taskId, status: task.status, lines: formatErrorLines(result.error as SerializedError | undefined, false) });
    this.#touch(plate, task);
  }

  #touch(plate: PlateState, task: TaskState): void {
    this.#dirtyTasks.set(task, plate.index);
    this.#dirty = true;
  }

  #runInfo(): RunInfo {
    return { title: this.#title, canStop: this.#canStop && this.#runState === 'running', state: this.#runState, now: round(this.#now()) };
  }

  #plateView(p: PlateState) {
    const { layout, rows, columns, rowLabels, columnLabels, cells } = p.layout;
    return { index: p.index, name: p.info.name, root: p.info.root, format: p.info.format, layout, rows, columns, rowLabels, columnLabels, cells, totals: this.#totals(p.progress) };
  }

  #taskView(plate: number, t: TaskState): TaskView {
    return { p: plate, id: t.planned.id, c: t.cell, s: t.status, ...(t.worker !== undefined ? { w: t.worker } : {}), ...(t.values ? { v: t.values } : {}) };
  }

  #totals(p: PlateProgress): Totals {
    const now = this.#now();
    const eta = etaSeconds(p, now);
    return {
      tasks: p.total ?? 0,
      done: p.done,
      ok: p.ok,
      resumed: p.resumed,
      failed: p.failed,
      notRun: p.notRun,
      running: p.running.size,
      images: p.images,
      elapsed: round(elapsed(p, now)),
      imagesPerSecond: round(imagesPerSecond(p, now)),
      eta: eta === undefined ? null : round(eta),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
