/**
 * A Slurm run's folder on the shared filesystem: the only channel between the coordinator and its
 * array elements, and what a restarted coordinator (or `plateflow status`) reads to find the run
 * again. Every file is written once, atomically; nothing is ever rewritten in place.
 *
 * ```
 * <output>/.plateflow/slurm/<runId>/
 *   plans/<task>.json              the frozen plan (json-codec text), written once per plan
 *   submissions/<n>.json           one array: its elements in order, [{ task, attempt, planHash }]
 *   submissions/<n>.job            the array's Slurm job id, once sbatch accepted it
 *   submissions/<n>.sh             the script it ran (for people reading what was submitted)
 *   results/<task>.<attempt>.json  an element's result, { planHash, result }
 *   logs/<jobId>_<element>.out|.err
 * ```
 */
import { mkdirSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { TaskPlan } from '../../compiler/plan.js';
import { PipelineError } from '../../errors.js';
import type { TaskResult } from '../../execution/result.js';
import { CHECKPOINT_DIR } from '../../storage/checkpoints.js';
import { writeFileAtomic } from '../../storage/atomic.js';
import { decodePlanText, encodePlan, taskResultSchema } from '../job-schema.js';
import { decodeJson, encodeJson } from '../json-codec.js';
import { taskKeyOf } from '../names.js';

export interface ElementEntry {
  /** File-name form of the task key (see {@link fileKeyOf}). */
  readonly task: string;
  readonly attempt: number;
  readonly planHash: string;
}

/** What an element needs besides its plan: the limits of the task's own process. */
export interface SubmissionSettings {
  readonly timeoutMs: number | null;
  readonly workerMemoryBytes: number | null;
}

export interface Submission {
  readonly number: number;
  readonly elements: readonly ElementEntry[];
  readonly settings: SubmissionSettings;
  /** Missing when sbatch never accepted it (the coordinator died in between, or sbatch refused). */
  readonly jobId: string | undefined;
}

export interface StoredResult {
  readonly planHash: string;
  readonly result: TaskResult;
}

/** The run folder of `runId` for plans written under `outputRoot`. */
export function slurmRunDir(outputRoot: string, runId: string): string {
  return path.join(outputRoot, CHECKPOINT_DIR, 'slurm', runId);
}

/** The output folder whose run folder `runDir` is (the inverse of {@link slurmRunDir}). */
export function outputRootOfRunDir(runDir: string): string {
  return path.resolve(runDir, '..', '..', '..');
}

/** A task key as one file name: the output-root hash and the encoded task id, joined by "-". */
export function fileKeyOf(plan: Pick<TaskPlan, 'outputRoot' | 'taskId'>): string {
  return taskKeyOf(plan.outputRoot, plan.taskId).replace('/', '-');
}

export class SlurmRunFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    for (const sub of ['plans', 'submissions', 'results', 'logs']) mkdirSync(path.join(dir, sub), { recursive: true });
  }

  keyOf(plan: Pick<TaskPlan, 'outputRoot' | 'taskId'>): string {
    return fileKeyOf(plan);
  }

  get logsDir(): string {
    return path.join(this.dir, 'logs');
  }

  /** Writes the plan unless the same text is there already; returns its file key and hash. */
  async writePlan(plan: TaskPlan): Promise<{ readonly task: string; readonly planHash: string }> {
    const task = fileKeyOf(plan);
    const { text, hash } = encodePlan(plan);
    const file = path.join(this.dir, 'plans', `${task}.json`);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) await writeFileAtomic(file, text);
    return { task, planHash: hash };
  }

  /** @throws PipelineError E_PLAN_INVALID when the file is not a plan this version wrote, or not the one expected */
  readPlan(task: string, planHash: string): TaskPlan {
    const file = path.join(this.dir, 'plans', `${task}.json`);
    return decodePlanText(readFileSync(file, 'utf8'), planHash, file);
  }

  /** The next free submission number (the coordinator is the only writer). */
  nextSubmission(): number {
    return this.submissions().reduce((n, s) => Math.max(n, s.number + 1), 0);
  }

  async writeSubmission(number: number, elements: readonly ElementEntry[], settings: SubmissionSettings, script: string): Promise<void> {
    await writeFileAtomic(this.#submission(number, 'sh'), script);
    await writeFileAtomic(this.#submission(number, 'json'), JSON.stringify({ elements, settings }));
  }

  async recordJobId(number: number, jobId: string): Promise<void> {
    await writeFileAtomic(this.#submission(number, 'job'), `${jobId}\n`);
  }

  readSubmission(number: number): Submission {
    const file = this.#submission(number, 'json');
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { elements: ElementEntry[]; settings: SubmissionSettings };
    const jobFile = this.#submission(number, 'job');
    const jobId = existsSync(jobFile) ? readFileSync(jobFile, 'utf8').trim() : undefined;
    return { number, elements: parsed.elements, settings: parsed.settings, jobId };
  }

  /** Every submission of the run, oldest first. */
  submissions(): Submission[] {
    return readdirSync(path.join(this.dir, 'submissions'))
      .filter((f) => /^\d+\.json$/.test(f))
      .map((f) => Number(f.slice(0, -5)))
      .sort((a, b) => a - b)
      .map((n) => this.readSubmission(n));
  }

  async writeResult(entry: ElementEntry, result: TaskResult): Promise<void> {
    await writeFileAtomic(this.resultFile(entry.task, entry.attempt), encodeJson({ planHash: entry.planHash, result }));
  }

  resultFile(task: string, attempt: number): string {
    return path.join(this.dir, 'results', `${task}.${attempt}.json`);
  }

  /** Names in results/ now: one directory read tells which of many elements have finished. */
  resultNames(): Set<string> {
    return new Set(readdirSync(path.join(this.dir, 'results')));
  }

  /**
   * The element's result, or undefined when it has none (yet).
   * @throws PipelineError E_PLAN_INVALID when the file is there but not a result of this version
   */
  readResult(task: string, attempt: number): StoredResult | undefined {
    const file = this.resultFile(task, attempt);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    const value = decodeJson(text) as { planHash?: unknown; result?: unknown };
    const parsed = taskResultSchema.safeParse(value.result);
    if (typeof value.planHash !== 'string' || !parsed.success) throw new PipelineError('E_PLAN_INVALID', `${file} is not a task result this plateflow version wrote`, { file });
    return { planHash: value.planHash, result: value.result as TaskResult };
  }

  #submission(number: number, ext: 'json' | 'job' | 'sh'): string {
    return path.join(this.dir, 'submissions', `${number}.${ext}`);
  }
}
