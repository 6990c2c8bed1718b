import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { StepPlan } from '../compiler/plan.js';
import type { MeasurementRow } from '../execution/result.js';
import type { DType } from '../image.js';
import { writeFileAtomic } from './atomic.js';
import type { SubdirectoryFiles } from './metadata-types.js';
import { assertSafeRelativePath, assertSafeSegment, resolveInside } from './safe-path.js';

/**
 * Markers are renamed into place (never torn) but not fsynced: the files a marker names are
 * durable before it is written, so a power failure can only lose the marker, and then the step
 * is redone. Saves four fsyncs per task.
 */
const MARKER_WRITE = { fsync: 'none' } as const;

/** 2: markers carry the metadata entries of their steps (written by the coordinator since). Older markers are not reused. */
const MARKER_VERSION = 2;

/**
 * Checkpoints live beside the outputs, in a hidden folder discovery never reads as images:
 *
 *   <output root>/.plateflow/
 *     steps/<step id>/<task id>.json   one per (task, disk step): the step's chained hash, every
 *                                      file it wrote (with its size) and the measurements so far;
 *                                      an OME-Zarr step also lists its planes (array + page)
 *     tasks/<task id>.json             one per finished task: the last step's hash and its result
 *
 * A marker is written (atomically) only after every file it lists was renamed into place, so a
 * marker that exists never points at a torn file. A marker whose hash differs from the plan's is
 * stale (a step's function or kwargs changed) and is ignored, which also invalidates every later
 * step because hashes are chained.
 */
export const CHECKPOINT_DIR = '.plateflow';

export interface CheckpointFile {
  /** Relative to the output root. */
  readonly path: string;
  readonly bytes: number;
  readonly components: Readonly<Record<string, string>>;
}

/** A plane of an OME-Zarr output step: which array, which plane of it, and its components. */
export interface CheckpointPlane {
  /** The position's array, relative to the output root, e.g. `1_project.zarr/B/3/1/0`. */
  readonly array: string;
  /** Flat plane index over the array's leading (t, c, z) axes. */
  readonly page: number;
  readonly components: Readonly<Record<string, string>>;
  /** The plane's own dtype, when the array stores it widened (a position mixing dtypes). */
  readonly dtype?: DType;
}

export interface StepCheckpoint {
  readonly version: typeof MARKER_VERSION;
  readonly hash: string;
  /** For an OME-Zarr step: every file of the task's positions (documents and chunks), components `{}`. */
  readonly files: readonly CheckpointFile[];
  /** OME-Zarr steps only: the planes a resumed task reloads (TIFF steps reload `files`). */
  readonly planes?: readonly CheckpointPlane[];
  /** Every file the task wrote up to and including this step, relative to the output root. */
  readonly outputs: readonly string[];
  /** Every measurement of the task up to and including this step. */
  readonly measurements: readonly MeasurementRow[];
  /** The metadata entries of every disk step up to and including this one (see `TaskResult.metadata`). */
  readonly metadata: readonly SubdirectoryFiles[];
}

export interface TaskCheckpoint {
  readonly version: typeof MARKER_VERSION;
  readonly hash: string;
  readonly outputs: readonly string[];
  readonly measurements: readonly MeasurementRow[];
  readonly metadata: readonly SubdirectoryFiles[];
  readonly images: number;
}

export class CheckpointStore {
  readonly #root: string;
  readonly #inputsKey: string;
  readonly #identity: () => string;
  #identityValue: string | undefined;

  /**
   * Every marker's key folds in the plan's `inputsKey` (which files, pages and components) and
   * `identity()` (what those files are now, see input-identity.ts): other or changed inputs,
   * other checkpoints. `identity` is called at most once, and only when a marker is read or written.
   */
  constructor(outputRoot: string, inputsKey: string, identity: () => string) {
    this.#root = outputRoot;
    this.#inputsKey = inputsKey;
    this.#identity = identity;
  }

  #key(hash: string): string {
    this.#identityValue ??= this.#identity();
    return createHash('sha256').update(hash).update('\0').update(this.#inputsKey).update('\0').update(this.#identityValue).digest('hex').slice(0, 16);
  }

  #marker(kind: 'steps' | 'tasks', taskId: string, stepId?: string): string {
    assertSafeSegment(taskId);
    const parts = stepId === undefined ? [CHECKPOINT_DIR, kind, `${taskId}.json`] : [CHECKPOINT_DIR, kind, assertSafeSegment(stepId), `${taskId}.json`];
    return path.join(this.#root, ...parts);
  }

  /** The step's checkpoint when its hash matches and every file it lists is present at its recorded size. */
  async readStep(taskId: string, step: StepPlan): Promise<StepCheckpoint | undefined> {
    const marker = readJson<StepCheckpoint>(this.#marker('steps', taskId, step.id));
    if (!marker || marker.version !== MARKER_VERSION || marker.hash !== this.#key(step.hash)) return undefined;
    for (const file of marker.files) {
      if (sizeOf(resolveInside(this.#root, assertSafeRelativePath(file.path))) !== file.bytes) return undefined;
    }
    return marker;
  }

  /** The step's marker is current (hash and inputs match); its files are not checked. For estimates only. */
  hasCurrentStep(taskId: string, step: StepPlan): boolean {
    const marker = readJson<StepCheckpoint>(this.#marker('steps', taskId, step.id));
    return marker !== undefined && marker.version === MARKER_VERSION && marker.hash === this.#key(step.hash);
  }

  async writeStep(taskId: string, step: StepPlan, progress: Omit<StepCheckpoint, 'version' | 'hash'>): Promise<void> {
    const marker: StepCheckpoint = { version: MARKER_VERSION, hash: this.#key(step.hash), ...progress };
    await writeFileAtomic(this.#marker('steps', taskId, step.id), JSON.stringify(marker), MARKER_WRITE);
  }

  async readTask(taskId: string, finalHash: string): Promise<TaskCheckpoint | undefined> {
    const marker = readJson<TaskCheckpoint>(this.#marker('tasks', taskId));
    if (!marker || marker.version !== MARKER_VERSION || marker.hash !== this.#key(finalHash)) return undefined;
    for (const output of marker.outputs) {
      if (sizeOf(resolveInside(this.#root, assertSafeRelativePath(output))) === undefined) return undefined;
    }
    return marker;
  }

  async writeTask(taskId: string, marker: Omit<TaskCheckpoint, 'version'>): Promise<void> {
    await writeFileAtomic(this.#marker('tasks', taskId), JSON.stringify({ version: MARKER_VERSION, ...marker, hash: this.#key(marker.hash) } satisfies TaskCheckpoint), MARKER_WRITE);
  }
}

/**
 * A missing marker means "not done". An unparsable one cannot come from our atomic writes, but if a
 * person edited it, redoing the work is the safe answer. Any other I/O fault is real and propagates.
 */
/** The file's size, or undefined when it cannot be seen (missing, unreadable): either way its checkpoint is not trusted. */
function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    // Blocking, like the marker writes: a task looks for its markers before it has anything else to do.
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}
