/**
 * The Slurm executor's {@link TaskRunner}: the shared dispatcher hands it tasks one by one (all of
 * them at once, since its concurrency is unbounded) and it turns each turn of the event loop's
 * worth into job arrays, split at the cluster's MaxArraySize. Retries, fail-fast, cancellation and
 * events stay the dispatcher's, as for every other executor.
 *
 * It learns how elements end from two sources: result files (noticed by a directory watch, and
 * read on every poll) and one `squeue` call per poll for the whole run, backing off while nothing
 * changes. An element that left the queue without a result is asked about once with `scontrol
 * show job`, and its ending decides the task's result (endings.ts).
 *
 * Restarted with the same run id, it adopts the elements of earlier submissions that are still
 * queued or running, and takes results they already wrote, instead of submitting them again.
 */
import { watch, type FSWatcher, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskPlan } from '../../compiler/plan.js';
import { serializeError } from '../../errors.js';
import type { Attempt, RunnerHandle, TaskRunner } from '../../execution/executors/dispatch.js';
import type { TaskResult } from '../../execution/result.js';
import { cancel, queueStates, showJob, submitBatch, type SlurmCommandOptions } from './commands.js';
import { endingOf, isLiveState } from './endings.js';
import { SlurmError } from './errors.js';
import type { ResolvedSlurmOptions } from './options.js';
import type { ElementEntry, SlurmRunFiles } from './run-files.js';
import { defaultPlateflowCommand, renderArrayScript } from './script.js';

interface Tracked {
  readonly plan: TaskPlan;
  /** Set when it is (re)submitted: each submission is a new attempt with its own result file. */
  entry: ElementEntry;
  readonly resolve: (result: TaskResult) => void;
  /** `<jobId>_<index>` once submitted (or adopted). */
  element: string | undefined;
  /** When the element was first missing from the queue with no result file. */
  goneSince: number | undefined;
  cancelledByUs: boolean;
  /** Times the node or scheduler lost it (resubmitted without using an attempt). */
  losses: number;
}

/** A lost element (node failure, preemption) is resubmitted this often before it counts as killed. */
const MAX_LOSSES = 3;
const STDERR_TAIL = 2000;
/** Pauses of 1, 2, 4, 8 and 16 s: a controller restart takes a few seconds. */
const SUBMIT_RETRIES = 5;
const WATCH_BURST_MS = 50;

export interface SlurmRunnerOptions {
  readonly files: SlurmRunFiles;
  readonly options: ResolvedSlurmOptions;
  readonly maxArraySize: number;
  readonly commands: SlurmCommandOptions;
  /** The memory limit to name when an element is killed for memory (the user's, or the default). */
  readonly mem: () => string | null;
  /** `--mem` in MiB to request when the user gave no memory option; null: the cluster's default. */
  readonly defaultMem: () => number | null;
  readonly time: string | null;
  readonly log: (message: string) => void;
}

export class SlurmRunner implements TaskRunner {
  readonly #o: SlurmRunnerOptions;
  /** Every task whose element has not reported, by file key. */
  readonly #tracked = new Map<string, Tracked>();
  #unsubmitted: Tracked[] = [];
  readonly #toCancel = new Set<string>();
  /** Submissions happen one after another (each takes the next number in the run folder). */
  #flushes: Promise<void> = Promise.resolve();
  #flushScheduled = false;
  #poller: NodeJS.Timeout | undefined;
  #interval: number;
  #watcher: FSWatcher | undefined;
  #collectSoon: NodeJS.Timeout | undefined;
  /** Elements of earlier coordinators of this run still queued: adopted instead of resubmitted. */
  #adoptable: Map<string, { readonly element: string; readonly attempt: number; readonly planHash: string }> | undefined;
  /** Highest attempt number each task has in the run folder, so a new element never reuses a result file name. */
  readonly #lastAttempt = new Map<string, number>();

  constructor(options: SlurmRunnerOptions) {
    this.#o = options;
    this.#interval = options.options.pollIntervalMs;
  }

  run(plan: TaskPlan, attempt: Attempt): RunnerHandle {
    let resolve!: (result: TaskResult) => void;
    const result = new Promise<TaskResult>((r) => (resolve = r));
    const key = this.#o.files.keyOf(plan);
    const tracked: Tracked = { plan, entry: { task: key, attempt: 0, planHash: '' }, resolve, element: undefined, goneSince: undefined, cancelledByUs: false, losses: 0 };
    attempt.signal.addEventListener('abort', () => this.#cancel(tracked), { once: true });
    this.#enqueue(tracked);
    return { result };
  }

  /** Stops polling and watching; elements still in the queue are the caller's to cancel. */
  close(): void {
    clearTimeout(this.#poller);
    this.#poller = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#collectSoon);
  }

  /** Elements still queued or running, `<jobId>_<index>`. */
  liveElements(): string[] {
    return [...this.#tracked.values()].flatMap((t) => (t.element ? [t.element] : []));
  }

  /** Tasks handed over in one turn of the event loop go into the same arrays. */
  #enqueue(t: Tracked): void {
    this.#unsubmitted.push(t);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flushes = this.#flushes.then(() => this.#flush()).catch((err: unknown) => this.#o.log(`submitting to Slurm: ${(err as Error).message}`));
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#unsubmitted.filter((t) => !t.cancelledByUs);
    this.#unsubmitted = [];
    if (batch.length === 0) return;
    const adoptable = await this.#adoptableElements();
    const submit: Tracked[] = [];
    for (const t of batch) {
      const { task, planHash } = await this.#o.files.writePlan(t.plan);
      const earlier = adoptable.get(task);
      if (earlier && earlier.planHash === planHash) {
        adoptable.delete(task);
        t.entry = { task, attempt: earlier.attempt, planHash };
        t.element = earlier.element;
        this.#o.log(`task ${t.plan.taskId}: adopting Slurm element ${earlier.element} of the earlier coordinator`);
      } else {
        const attempt = (this.#lastAttempt.get(task) ?? 0) + 1;
        this.#lastAttempt.set(task, attempt);
        t.entry = { task, attempt, planHash };
        submit.push(t);
      }
      this.#tracked.set(task, t);
    }
    for (let i = 0; i < submit.length; i += this.#o.maxArraySize) await this.#submit(submit.slice(i, i + this.#o.maxArraySize));
    this.#schedulePoll(0);
  }

  #sbatchArgs(): readonly string[] {
    const mem = this.#o.defaultMem();
    return mem === null ? this.#o.options.sbatchArgs : [...this.#o.options.sbatchArgs, `--mem=${mem}M`];
  }

  async #submit(chunk: readonly Tracked[]): Promise<void> {
    const { files, options } = this.#o;
    const number = files.nextSubmission();
    const script = renderArrayScript({
      runId: options.runId,
      runDir: files.dir,
      submission: number,
      elements: chunk.length,
      parallelism: options.arrayParallelism,
      sbatchArgs: this.#sbatchArgs(),
      plateflow: options.plateflowCommand ?? defaultPlateflowCommand(),
    });
    await files.writeSubmission(number, chunk.map((t) => t.entry), { timeoutMs: options.timeoutMs, workerMemoryBytes: options.workerMemoryBytes }, script);
    let jobId: string;
    try {
      ({ jobId } = await this.#submitWithRetries(script));
    } catch (err) {
      // Not the tasks' fault, but nothing will run them: `killed`, so retries may try again.
      for (const t of chunk) this.#finish(t, failed(t.plan, err));
      return;
    }
    await files.recordJobId(number, jobId);
    chunk.forEach((t, index) => (t.element = `${jobId}_${index}`));
  }

  /**
   * sbatch, again after a pause while the controller cannot be reached (restarting, briefly
   * overloaded), but never after a timeout: the job may have been queued then, and a second
   * submission would run its tasks twice.
   */
  async #submitWithRetries(script: string): Promise<{ readonly jobId: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await submitBatch(script, [], { ...this.#o.commands, cwd: this.#o.files.dir });
      } catch (err) {
        const retry = err instanceof SlurmError && err.code === 'E_SLURM_UNAVAILABLE' && err.context['timedOut'] !== true && attempt < SUBMIT_RETRIES;
        if (!retry) throw err;
        this.#o.log(`sbatch: ${err.message}; trying again`);
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
      }
    }
  }

  /** Earlier coordinators' elements that Slurm still has queued or running, by task. */
  async #adoptableElements(): Promise<Map<string, { readonly element: string; readonly attempt: number; readonly planHash: string }>> {
    if (this.#adoptable) return this.#adoptable;
    const found = new Map<string, { element: string; attempt: number; planHash: string }>();
    this.#adoptable = found;
    if (!this.#o.options.resumable) return found;
    const all = this.#o.files.submissions();
    for (const s of all) for (const e of s.elements) this.#lastAttempt.set(e.task, Math.max(e.attempt, this.#lastAttempt.get(e.task) ?? 0));
    const submissions = all.filter((s) => s.jobId !== undefined);
    if (submissions.length === 0) return found;
    const live = await this.#liveElements(submissions.map((s) => s.jobId!));
    const results = this.#o.files.resultNames();
    for (const s of submissions) {
      s.elements.forEach((entry, index) => {
        const element = `${s.jobId}_${index}`;
        // A finished element's result file is adopted too: the poll reads it at once.
        if (live.has(element) || results.has(path.basename(this.#o.files.resultFile(entry.task, entry.attempt)))) found.set(entry.task, { element, attempt: entry.attempt, planHash: entry.planHash });
      });
    }
    return found;
  }

  /** The dispatcher gave up on the task (timeout, cancelled run): its element goes, in one scancel with the others of this turn. */
  #cancel(t: Tracked): void {
    t.cancelledByUs = true;
    if (this.#tracked.get(t.entry.task) === t) this.#tracked.delete(t.entry.task);
    if (!t.element) return;
    this.#toCancel.add(t.element);
    if (this.#toCancel.size === 1) setImmediate(() => {
        const elements = [...this.#toCancel];
        this.#toCancel.clear();
        void this.cancelElements(elements);
      });
  }

  /** scancel, once for all of them; a failure is logged (the elements may have ended meanwhile). */
  async cancelElements(elements: readonly string[]): Promise<void> {
    if (elements.length === 0) return;
    try {
      await cancel(elements, this.#o.commands);
    } catch (err) {
      this.#o.log(`scancel ${elements.length} element(s): ${(err as Error).message}`);
    }
  }

  #finish(t: Tracked, result: TaskResult): void {
    if (this.#tracked.get(t.entry.task) === t) this.#tracked.delete(t.entry.task);
    t.resolve(result);
  }

  #schedulePoll(delay: number): void {
    this.#watch();
    if (this.#poller || this.#tracked.size === 0) return;
    this.#poller = setTimeout(() => {
      this.#poller = undefined;
      void this.#poll()
        .catch((err: unknown) => this.#o.log(`polling Slurm: ${(err as Error).message}`))
        .finally(() => this.#schedulePoll(this.#interval));
    }, delay);
  }

  /** Result files are noticed as they appear, not at the next poll (where the filesystem tells us). */
  #watch(): void {
    if (this.#tracked.size === 0) {
      this.#watcher?.close();
      this.#watcher = undefined;
      return;
    }
    if (this.#watcher) return;
    try {
      // Events come in bursts (a temp file, then its rename; many elements ending together): one
      // read of the folder per burst, not one per event.
      this.#watcher = watch(path.dirname(this.#o.files.resultFile('x', 0)), () => {
        if (this.#collectSoon) return;
        this.#collectSoon = setTimeout(() => {
          this.#collectSoon = undefined;
          this.#collectResults();
        }, WATCH_BURST_MS);
      });
      this.#watcher.on('error', () => undefined);
    } catch {
      // No inotify (some network filesystems): the polls read the folder instead.
    }
  }

  /** Records every tracked task whose result file is there; true when any was. */
  #collectResults(): boolean {
    const names = this.#o.files.resultNames();
    let found = false;
    for (const t of [...this.#tracked.values()]) {
      if (!names.has(path.basename(this.#o.files.resultFile(t.entry.task, t.entry.attempt)))) continue;
      let stored;
      try {
        stored = this.#o.files.readResult(t.entry.task, t.entry.attempt);
      } catch (err) {
        // Not a result this version wrote: the task has none, and says why.
        this.#finish(t, failed(t.plan, err));
        found = true;
        continue;
      }
      if (!stored || stored.planHash !== t.entry.planHash) continue;
      this.#finish(t, stored.result);
      found = true;
    }
    return found;
  }

  async #poll(): Promise<void> {
    let changed = this.#collectResults();
    const submitted = [...this.#tracked.values()].filter((t) => t.element !== undefined);
    if (submitted.length > 0) {
      const jobs = [...new Set(submitted.map((t) => t.element!.split('_')[0]!))];
      const live = await this.#liveElements(jobs);
      // A result may have landed between the directory read and squeue.
      changed = this.#collectResults() || changed;
      for (const t of submitted) {
        if (this.#tracked.get(t.entry.task) !== t) continue;
        if (live.has(t.element!)) {
          t.goneSince = undefined;
          continue;
        }
        changed = (await this.#settleGone(t)) || changed;
      }
    }
    const { pollIntervalMs, maxPollIntervalMs } = this.#o.options;
    this.#interval = changed ? pollIntervalMs : Math.min(this.#interval * 2, maxPollIntervalMs);
  }

  /** Elements of these arrays that Slurm still runs or will run: one squeue call. */
  async #liveElements(jobIds: readonly string[]): Promise<Set<string>> {
    const states = await queueStates(jobIds, this.#o.commands);
    return new Set(states.filter((e) => isLiveState(e.state)).map((e) => `${e.jobId}_${e.taskId}`));
  }

  /** An element out of the queue without a result: decide from Slurm's record once the grace is over. */
  async #settleGone(t: Tracked): Promise<boolean> {
    const now = Date.now();
    t.goneSince ??= now;
    const records = await showJob(t.element!, this.#o.commands);
    const record = records?.[0];
    const finishedCleanly = record !== undefined && record.state.startsWith('COMPLETED');
    // A clean exit always wrote its result: give a shared filesystem time to show it.
    if ((finishedCleanly || record === undefined) && now - t.goneSince < this.#o.options.resultGraceMs) return false;
    const ending = endingOf(record, { plan: t.plan, element: t.element!, stderrTail: this.#stderrTail(t.element!), mem: this.#o.mem(), time: this.#o.time, cancelledByUs: t.cancelledByUs });
    if (ending.kind === 'wait') {
      t.goneSince = undefined;
      return false;
    }
    if (ending.kind === 'lost' && t.losses < MAX_LOSSES) {
      this.#o.log(`task ${t.plan.taskId}: ${ending.why}; submitting it again`);
      this.#tracked.delete(t.entry.task);
      t.element = undefined;
      t.goneSince = undefined;
      t.losses++;
      this.#enqueue(t);
      return true;
    }
    this.#finish(t, ending.kind === 'result' ? ending.result : failed(t.plan, new Error(`${ending.why}, ${MAX_LOSSES + 1} times`)));
    return true;
  }

  #stderrTail(element: string): string {
    try {
      return readFileSync(path.join(this.#o.files.logsDir, `${element}.err`), 'utf8').slice(-STDERR_TAIL).trim();
    } catch {
      return '';
    }
  }
}

function failed(plan: TaskPlan, err: unknown): TaskResult {
  return { taskId: plan.taskId, axis: plan.axis, status: 'killed', error: serializeError(err), seconds: 0, images: plan.inputs.length, outputs: [], measurements: [] };
}
