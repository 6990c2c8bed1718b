import { statfs, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TaskPlan } from '../compiler/plan.js';
import { PlateflowError, ZarrError } from '../errors.js';
import { bytesPerPixel } from '../image.js';
import { probeMemory } from '../execution/resources/memory.js';
import { formatBytes } from '../execution/resources/units.js';
import { isOmeZarrFormat } from '../microscopes/ome-zarr.js';
import { isImageDType } from '../ome-zarr/plate-reader.js';
import { resolveInside } from '../storage/safe-path.js';
import { readTiff } from '../storage/tiff-read.js';
import { readArrayHeader } from '../storage/zarr-io.js';
import { mapLimit } from '../ome-zarr/concurrency.js';

/**
 * Before any work: will the run fit? A batch that OOMs at hour 3 or fills the disk at hour 5 costs
 * far more than a refusal up front.
 *
 * Only what is still to do counts: the caller passes the tasks that will run, and for each the
 * disk steps without a current checkpoint (a resume needs a fraction of a fresh run's disk).
 *
 * RAM per task ≈ its decoded input × peak factor. The factor is 1 (the task's inputs) plus two
 * float32-sized working copies (the previous step's outputs kept in memory, and the current
 * function's output), so `1 + 2 × 4 / bytes per input pixel`: 5 for uint16, 9 for uint8. Peak RAM =
 * the largest task × factor × workers, plus a fixed per-worker overhead.
 * Disk ≈ every disk step writing at most twice the input volume (uint16 in, float32 out).
 * These are upper bounds on purpose: they decide whether to stop a run before it starts.
 */
export const WORKER_OVERHEAD_BYTES = 64 * 1024 * 1024;
export const WARN_FRACTION = 0.8;
/** Stats in flight at once: enough to keep libuv's pool and the kernel busy, few enough to keep memory flat. */
const STAT_CONCURRENCY = 64;
/** Inputs up to this many are all stat'ed; above it a sample may stand for them (see inputSizes). */
const FULL_STAT_LIMIT = 20_000;
const SAMPLE_FILES = 2_000;

export interface PreflightEstimate {
  readonly workers: number;
  readonly peakFactor: number;
  readonly largestTaskBytes: number;
  /** RAM one worker needs at its peak: the largest task's inputs × `peakFactor` + the worker's overhead. */
  readonly taskPeakBytes: number;
  /**
   * Pixel memory a worker may keep for reuse between tasks (its buffer pool): the largest task's
   * working set (inputs × `peakFactor`), at most half the worker memory limit when there is one.
   */
  readonly bufferPoolBytes: number;
  readonly inputBytes: number;
  readonly peakRamBytes: number;
  readonly memoryAvailableBytes: number;
  readonly diskNeedBytes: number;
  readonly diskAvailableBytes: number;
}

export interface PreflightReport {
  readonly estimate: PreflightEstimate;
  readonly warnings: readonly string[];
  /** How the estimate was reached where it is not plain (a sample standing for all inputs). */
  readonly notes: readonly string[];
}

export interface PreflightOptions {
  readonly workers: number;
  /** Downgrade a refusal to a warning (`--force-run`). */
  readonly forceRun?: boolean;
  /** Injected for tests; default: probeMemory().freeBytes (cgroup limit if lower than physical). */
  readonly memoryAvailableBytes?: number;
  /** Injected for tests; default: free space of the file system holding the output root. */
  readonly diskAvailableBytes?: number;
  /**
   * Disk steps of a task that still have to write (a resumed task has checkpoints for some).
   * @defaultValue every disk step of the plan
   */
  readonly diskStepsToRun?: (plan: TaskPlan) => number;
  /** `--worker-memory`: bounds what a worker keeps for reuse (`bufferPoolBytes`). */
  readonly workerMemoryBytes?: number;
  /** Above this many input files a sample of them may stand for all (see inputSizes). @defaultValue 20,000 */
  readonly sampleAbove?: number;
}

/** Raised when the estimate exceeds what is available; the message carries the numbers. */
export class PreflightError extends PlateflowError {
  constructor(message: string, readonly estimate: PreflightEstimate) {
    super('E_RESOURCE', message, { ...estimate });
    this.name = 'PreflightError';
  }
}

/** @throws PreflightError E_RESOURCE when RAM or disk need reaches 100 % of what is available and `forceRun` is not set */
export async function preflight(plans: readonly TaskPlan[], options: PreflightOptions): Promise<PreflightReport> {
  if (plans.length === 0) return { estimate: emptyEstimate(options.workers), warnings: [], notes: [] };
  const first = plans[0]!;
  const zarr = isOmeZarrFormat(first.plate.format) ? zarrPlaneSizes(first.plate.root) : undefined;
  const bpp = zarr ? (first.inputs[0] ? (await zarr(first.inputs[0].path)).bpp : 2) : await sampleBytesPerPixel(plans);
  const peakFactor = 1 + (2 * 4) / bpp;

  const diskStepsToRun = options.diskStepsToRun ?? ((plan: TaskPlan) => plan.steps.filter((s) => s.backend === 'disk').length);
  let inputBytes = 0;
  let largestTaskBytes = 0;
  let diskNeedBytes = 0;
  const { totals: sizes, note } = await inputSizes(plans, zarr, options.sampleAbove ?? FULL_STAT_LIMIT);
  for (let t = 0; t < plans.length; t++) {
    const plan = plans[t]!;
    const taskBytes = sizes[t]!;
    inputBytes += taskBytes;
    largestTaskBytes = Math.max(largestTaskBytes, taskBytes);
    diskNeedBytes += taskBytes * 2 * diskStepsToRun(plan);
  }
  const workers = Math.max(1, Math.min(options.workers, plans.length));
  const workingSetBytes = Math.ceil(largestTaskBytes * peakFactor);
  const taskPeakBytes = workingSetBytes + WORKER_OVERHEAD_BYTES;
  const peakRamBytes = taskPeakBytes * workers;
  const estimate: PreflightEstimate = {
    workers,
    peakFactor,
    largestTaskBytes,
    taskPeakBytes,
    bufferPoolBytes: options.workerMemoryBytes !== undefined ? Math.min(workingSetBytes, Math.floor(options.workerMemoryBytes / 2)) : workingSetBytes,
    inputBytes,
    peakRamBytes,
    memoryAvailableBytes: options.memoryAvailableBytes ?? probeMemory().freeBytes,
    diskNeedBytes,
    diskAvailableBytes: options.diskAvailableBytes ?? (await freeDisk(first.outputRoot)),
  };

  const warnings: string[] = [];
  const refusals: string[] = [];
  const check = (what: string, need: number, available: number, advice: string) => {
    const fraction = available > 0 ? need / available : Infinity;
    const line = `${what}: estimated ${formatBytes(need)} of ${formatBytes(available)} available (${(fraction * 100).toFixed(0)} %)`;
    if (fraction >= 1) refusals.push(`${line}; ${advice}`);
    else if (fraction >= WARN_FRACTION) warnings.push(line);
  };
  check('peak RAM', peakRamBytes, estimate.memoryAvailableBytes, `use fewer workers (now ${workers}) or free memory`);
  check('output disk', diskNeedBytes, estimate.diskAvailableBytes, 'free space or choose another --out');
  if (refusals.length > 0) {
    if (!options.forceRun) throw new PreflightError(`preflight: the run will not fit — ${refusals.join('; ')}. Pass --force-run to start anyway.`, estimate);
    warnings.push(...refusals.map((r) => `${r} (continuing because of --force-run)`));
  }
  return { estimate, warnings, notes: note ? [note] : [] };
}

interface InputFile {
  readonly task: number;
  readonly path: string;
}

/**
 * Bytes of each plan's inputs, and how they were found. Up to FULL_STAT_LIMIT files every one is
 * stat'ed, STAT_CONCURRENCY at a time (one awaited stat after another cost 52 s at a million files).
 * Above it an evenly spread sample is stat'ed first: when every sampled file has the same size, as
 * on uncompressed plates from one camera, that size stands for all (saying so); otherwise all are
 * stat'ed. A stat costs ~20 µs here even from the cache: 20 s at a million files.
 */
async function inputSizes(plans: readonly TaskPlan[], zarr: ((array: string) => Promise<{ planeBytes: number }>) | undefined, sampleAbove: number): Promise<{ totals: number[]; note?: string }> {
  const files: InputFile[] = plans.flatMap((plan, task) => plan.inputs.map((record) => ({ task, path: record.path })));
  const sizeOf = async ({ task, path: file }: InputFile) => (zarr ? (await zarr(file)).planeBytes : (await stat(resolveInside(plans[task]!.plate.root, file))).size);
  const totals = new Array<number>(plans.length).fill(0);
  if (files.length > sampleAbove && !zarr) {
    const every = Math.max(2, Math.ceil(files.length / SAMPLE_FILES));
    const sample = files.filter((_, i) => i % every === 0);
    const sizes = new Set(await mapLimit(sample, STAT_CONCURRENCY, sizeOf));
    if (sizes.size === 1) {
      const [size] = [...sizes] as [number];
      for (const file of files) totals[file.task]! += size;
      return { totals, note: `input sizes from ${sample.length} of ${files.length} files, all ${size} bytes (pass --no-preflight to skip the estimate)` };
    }
  }
  await mapLimit(files, STAT_CONCURRENCY, async (file) => {
    const bytes = await sizeOf(file);
    totals[file.task]! += bytes;
  });
  return { totals };
}

/** OME-Zarr records are planes of arrays (a directory each): their decoded size comes from the array header, read once per array. */
function zarrPlaneSizes(root: string): (array: string) => Promise<{ bpp: number; planeBytes: number }> {
  const headers = new Map<string, Promise<{ bpp: number; planeBytes: number }>>();
  return (array) => {
    let sizes = headers.get(array);
    if (!sizes) {
      sizes = readArrayHeader(resolveInside(root, array)).then((h) => {
        if (!h || !isImageDType(h.dataType)) throw new ZarrError(resolveInside(root, array), 'not an image array');
        const bpp = bytesPerPixel(h.dataType);
        return { bpp, planeBytes: h.shape.slice(-2).reduce((a, b) => a * b, bpp) };
      });
      headers.set(array, sizes);
    }
    return sizes;
  };
}

/** How many inputs to try for the pixel size before assuming 2 bytes (uint16, the common case). */
const SAMPLE_ATTEMPTS = 8;

/**
 * Bytes per pixel of the plate's images, from the first input that reads. An unreadable input is
 * its own task's failure, reported by that task; it must not stop the whole run here.
 */
async function sampleBytesPerPixel(plans: readonly TaskPlan[]): Promise<number> {
  let attempts = 0;
  for (const plan of plans) {
    for (const record of plan.inputs) {
      if (attempts++ >= SAMPLE_ATTEMPTS) return 2;
      const dtype = await readTiff(resolveInside(plan.plate.root, record.path), record.sample !== undefined ? { sample: record.sample } : {}).then((t) => t.dtype, () => undefined);
      if (dtype !== undefined) return bytesPerPixel(dtype);
    }
  }
  return 2;
}

function emptyEstimate(workers: number): PreflightEstimate {
  return { workers, peakFactor: 0, largestTaskBytes: 0, taskPeakBytes: 0, bufferPoolBytes: 0, inputBytes: 0, peakRamBytes: 0, memoryAvailableBytes: 0, diskNeedBytes: 0, diskAvailableBytes: 0 };
}

/** Free bytes for an unprivileged writer on the file system of `dir` (or its nearest existing parent). */
async function freeDisk(dir: string): Promise<number> {
  let probe = path.resolve(dir);
  for (;;) {
    try {
      const fs = await statfs(probe);
      return fs.bavail * fs.bsize;
    } catch (err) {
      const parent = path.dirname(probe);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === probe) throw err;
      probe = parent;
    }
  }
}
