import type { AcquisitionMetadata, ImageRecord, PlateGrid } from '../microscopes/types.js';
import type { BackendKind, Kwargs } from '../pipeline/types.js';
import type { OutputFormat } from './output-format.js';

export const PLAN_FORMAT_VERSION = 1;

/** A function with its kwargs already validated and defaulted by the function's schema. */
export interface FuncCall {
  readonly fn: string;
  readonly kwargs: Kwargs;
}

/**
 * The chains of one step. `byGroup` is used when the pattern was a map; a group value missing from
 * the map falls back to `default`, and when that is null the group passes through unchanged.
 */
export interface StepPattern {
  readonly default: readonly FuncCall[] | null;
  readonly byGroup: Readonly<Record<string, readonly FuncCall[]>>;
}

/** Every call of a pattern: the default chain and each group's. */
export function callsOf(pattern: StepPattern): readonly FuncCall[] {
  return [...(pattern.default ?? []), ...Object.values(pattern.byGroup).flat()];
}

export interface StepPlan {
  readonly index: number;
  readonly name: string;
  /** Safe single path segment, unique in the pipeline, e.g. `1_max_projection`. */
  readonly id: string;
  readonly variableComponents: readonly string[];
  readonly groupBy: string | null;
  readonly pattern: StepPattern;
  readonly backend: BackendKind;
  /** Absolute output directory for disk steps (`<root>/<id>`, or `<root>/<id>.zarr` for OME-Zarr), null for memory steps. */
  readonly outputDir: string | null;
  /** How a disk step stores its planes (TIFF files or one OME-Zarr plate); null for memory steps. */
  readonly outputFormat: OutputFormat | null;
  /** The last disk step: what `plateflow_metadata.json` marks as the main output. */
  readonly main: boolean;
  readonly gpu: boolean;
  /** Hash of the step's functions and kwargs, chained with the previous step's (checkpoint key). */
  readonly hash: string;
}

/** How a task treats the checkpoints of earlier runs (see storage/checkpoints.ts). */
export interface CheckpointPolicy {
  /** Reuse finished tasks and steps whose hashes still match; false = recompute everything (--force). */
  readonly reuse: boolean;
  /** Index of the first step to recompute even when its checkpoint matches (--from-step). */
  readonly fromStep: number | null;
  /** Index of the last step to run (--to-step); later steps are not run. */
  readonly toStep: number | null;
  /** Inputs are recognised by a hash of their bytes instead of size, mtime and inode (--verify-inputs; see storage/input-identity.ts). */
  readonly verifyInputs: boolean;
}

/** How `py:` steps run: the interpreter every worker starts (one Python process per plateflow worker). */
export interface PythonPlan {
  /** As given (`--python`, `PLATEFLOW_PYTHON`, else `python3`): a path or a name on PATH. */
  readonly executable: string;
}

export interface TaskResources {
  /** Relative size of the task (input image count) so schedulers can start big tasks first. */
  readonly weight: number;
  /** GPU assigned by the compiler, or null. */
  readonly gpuId: number | null;
  /**
   * Most pixel memory the worker may keep for reuse between groups and tasks (its buffer pool),
   * set by the run from the preflight estimate and the worker memory limit; absent, a default.
   */
  readonly bufferPoolBytes?: number;
}

/**
 * Everything one task needs, and nothing mutable. It is deep-frozen after compilation so no worker
 * can change what another one reads, and it must survive structuredClone / v8.serialize intact,
 * because that is how it reaches thread and process workers.
 */
export interface TaskPlan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  readonly taskId: string;
  readonly axis: Readonly<Record<string, string>>;
  readonly plate: {
    readonly root: string;
    readonly format: string;
    /** Every component of the plate, in a fixed order (grouping keys, sorting). */
    readonly componentOrder: readonly string[];
    /**
     * Components that appear in output file names: well, site and channel, plus any other with
     * more than one value in the plate (a constant `timepoint-1` in every name would be noise).
     */
    readonly nameComponents: readonly string[];
    readonly grid: PlateGrid | null;
    /** The source's channel names, pixel size, …, carried into OME-Zarr and `plateflow_metadata.json`. */
    readonly acquisition?: AcquisitionMetadata;
  };
  readonly inputs: readonly ImageRecord[];
  /**
   * Fingerprint of where the task's inputs come from (plate root, files, pages, components).
   * Checkpoints are keyed by it too, so a different plate run into the same output folder never
   * reuses another plate's results.
   */
  readonly inputsKey: string;
  readonly steps: readonly StepPlan[];
  readonly outputRoot: string;
  /** Resolved user module specifiers to load before running. */
  readonly modules: readonly string[];
  readonly resources: TaskResources;
  readonly checkpoints: CheckpointPolicy;
  /** Record RSS per step (peak and at end) in the result (`--memory-debug`). */
  readonly memoryDebug: boolean;
  /** Present when a step calls a Python function (`py:…`). */
  readonly python: PythonPlan | null;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
