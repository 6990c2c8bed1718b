/**
 * `processPosition` — iohub's `process_single_position` (seed 002), with its lessons applied:
 *
 * - one unit per (timepoint, channel group), each reading a C×Z×Y×X volume, so memory per worker
 *   is one volume, and units run in any order;
 * - `numWorkers ≤ 1` runs in the caller's thread (no pool to start); otherwise `executor` picks
 *   worker threads (cheap; JS has no GIL, every thread has its own heap) or child processes
 *   (separate address spaces: native allocators that never give memory back stay contained);
 * - the worker count is capped by the CPUs the job may use (`execution/resources`: Slurm, cgroup
 *   quota, affinity — the same count the executors use), never the node's core count;
 * - a dead worker fails the call at once (`E_TASK_KILLED`) instead of hanging until wall time;
 * - all-zero / all-NaN input volumes are skipped and reported, not processed;
 * - every unit opens and drops its own array handles;
 * - extra `kwargs` go to the function only — option names never leak into them (iohub's
 *   `num_threads` bug) because options and kwargs are separate objects;
 * - `resume: true` skips units with a matching done marker and redoes the rest (see `markers.ts`).
 *
 * @module
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AbortError, ConfigError, ZarrError } from '../errors.js';
import { ZarrArray } from '../storage/zarr-array.js';
import { ensureDir, readGroup } from '../storage/zarr-io.js';
import { availableCpus } from '../execution/resources/cpus.js';
import { sweepStaleTempFiles } from '../storage/stale-temp.js';
import { clearMarkers, fingerprint, MARKER_DIR, readDone, settleDone, type UnitSpec } from './markers.js';
import { parseImage } from './ngff.js';
import { processPool, threadPool, type PositionExecutor, type UnitPool } from './pools.js';
import { resolveModule, runUnit, type FunctionRef, type UnitOutcome, type UnitTask, type VolumeFunction } from './unit.js';

export interface ProcessPositionOptions {
  /** Channel groups to read, one unit per group and timepoint; a number is a group of one. @defaultValue each channel alone */
  readonly inputChannelIndices?: readonly (number | readonly number[])[];
  /** Where each group's output goes (same number of groups). @defaultValue the input indices */
  readonly outputChannelIndices?: readonly (number | readonly number[])[];
  /** @defaultValue every timepoint */
  readonly inputTimeIndices?: readonly number[];
  /** @defaultValue the input time indices */
  readonly outputTimeIndices?: readonly number[];
  /** Units run at once; capped by the available CPUs. @defaultValue 1 (serial, in this thread) */
  readonly numWorkers?: number;
  /** @defaultValue 'threads' */
  readonly executor?: PositionExecutor;
  /** Passed to the function as its second argument (must be structured-clone safe for workers). */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Skip units whose done marker matches; redo the others. @defaultValue false (start over) */
  readonly resume?: boolean;
  /** Skip volumes with an all-zero or all-NaN channel. @defaultValue true */
  readonly skipEmpty?: boolean;
  readonly signal?: AbortSignal;
  /** Called as each unit finishes (or is skipped as already done). */
  readonly onUnit?: (result: UnitResult) => void;
}

export interface UnitResult {
  readonly unit: UnitSpec;
  readonly status: 'done' | 'skipped-empty' | 'already-done';
  readonly reason?: string;
  readonly seconds: number;
}

export interface ProcessPositionResult {
  readonly units: readonly UnitResult[];
  readonly processed: number;
  readonly skippedEmpty: number;
  /** Units a previous run had finished (resume). */
  readonly alreadyDone: number;
  readonly workers: number;
  readonly executor: 'serial' | PositionExecutor;
  readonly seconds: number;
}

interface Position {
  readonly group: string;
  readonly array: ZarrArray;
}

async function openPosition(dir: string, role: string): Promise<Position> {
  const group = path.resolve(dir);
  const info = await readGroup(group);
  if (!info) throw new ZarrError(group, `the ${role} position is not a Zarr group`);
  const image = parseImage(info.attributes, group);
  const axes = image.multiscale.axes.map((a) => a.name.toLowerCase()).join('');
  if (axes !== 'tczyx') throw new ZarrError(group, `the ${role} position has axes ${axes}; processPosition needs t, c, z, y, x`);
  return { group, array: await ZarrArray.open(path.join(group, image.multiscale.datasets[0]!.path)) };
}

function groups(value: readonly (number | readonly number[])[], name: string): number[][] {
  return value.map((g, i) => {
    const list = typeof g === 'number' ? [g] : [...g];
    if (list.length === 0) throw new ConfigError(`${name}[${i}] is an empty channel group`);
    return list;
  });
}

function checkIndices(values: readonly number[], size: number, name: string): void {
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v >= size) throw new ConfigError(`${name} contains ${v}; valid indices are 0…${size - 1}`, { option: name });
  }
}

/** The units of a call, validated against both arrays. @throws ConfigError naming the option. */
export function planUnits(input: ZarrArray, output: ZarrArray, opts: ProcessPositionOptions): UnitSpec[] {
  const [it, ic] = input.shape as [number, number];
  const [ot, oc] = output.shape as [number, number];
  const inGroups = groups(opts.inputChannelIndices ?? Array.from({ length: ic }, (_, c) => c), 'inputChannelIndices');
  const outGroups = opts.outputChannelIndices ? groups(opts.outputChannelIndices, 'outputChannelIndices') : inGroups;
  if (outGroups.length !== inGroups.length) {
    throw new ConfigError(`outputChannelIndices has ${outGroups.length} groups but inputChannelIndices has ${inGroups.length}`, { option: 'outputChannelIndices' });
  }
  inGroups.forEach((g) => checkIndices(g, ic, 'inputChannelIndices'));
  outGroups.forEach((g) => checkIndices(g, oc, 'outputChannelIndices'));
  const inT = opts.inputTimeIndices ?? Array.from({ length: it }, (_, t) => t);
  const outT = opts.outputTimeIndices ?? inT;
  if (outT.length !== inT.length) throw new ConfigError(`outputTimeIndices has ${outT.length} entries but inputTimeIndices has ${inT.length}`, { option: 'outputTimeIndices' });
  checkIndices(inT, it, 'inputTimeIndices');
  checkIndices(outT, ot, 'outputTimeIndices');
  const units: UnitSpec[] = [];
  const targets = new Set<string>();
  inT.forEach((t, ti) => {
    inGroups.forEach((channels, gi) => {
      const unit = { t, channels, outT: outT[ti]!, outChannels: outGroups[gi]! };
      for (const c of unit.outChannels) {
        const key = `${unit.outT}/${c}`;
        if (targets.has(key)) throw new ConfigError(`two units would write output timepoint ${unit.outT}, channel ${c}; make the output indices distinct`);
        targets.add(key);
      }
      units.push(unit);
    });
  });
  return units;
}

/**
 * Applies `fn` to every (timepoint, channel group) volume of `inputPosition` and writes the results
 * into `outputPosition` (an existing position group with a TCZYX array, e.g. made with
 * `OmeZarrPlateWriter` or `addPosition`; its Z/Y/X sizes are what `fn` must return).
 *
 * `fn` may be a function when running serially; threads and processes need a `FunctionRef`
 * (`{ module, export }`) they can import.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for bad indices, a function where a reference is needed,
 *   or kwargs that cannot be sent to workers.
 * @throws ZarrError when a position is not a TCZYX OME-Zarr image.
 * @throws StepFailedError-coded (`E_STEP_FAILED`) errors when `fn` throws or returns a wrong size;
 *   `E_TASK_KILLED` when a worker dies; AbortError when `signal` aborts. Units finished before a
 *   failure keep their done markers, so `resume: true` continues from there.
 */
export async function processPosition(
  fn: VolumeFunction | FunctionRef,
  inputPosition: string,
  outputPosition: string,
  options: ProcessPositionOptions = {},
): Promise<ProcessPositionResult> {
  const started = performance.now();
  const input = await openPosition(inputPosition, 'input');
  const output = await openPosition(outputPosition, 'output');
  const units = planUnits(input.array, output.array, options);
  const kwargs = options.kwargs ?? {};
  const requested = options.numWorkers ?? 1;
  if (!Number.isInteger(requested) || requested < 0) throw new ConfigError(`numWorkers must be a non-negative integer, got ${requested}`, { option: 'numWorkers' });
  const executor = options.executor ?? 'threads';
  if (executor !== 'threads' && executor !== 'processes') throw new ConfigError(`executor must be "threads" or "processes", got "${String(executor)}"`, { option: 'executor' });

  const ref: FunctionRef = typeof fn === 'function' ? { module: '(in-process)', export: fn.name || 'anonymous' } : { module: resolveModule(fn.module), ...(fn.export ? { export: fn.export } : {}) };
  const fnId = typeof fn === 'function' ? `function:${fn.name}:${fingerprint(fn.toString())}` : `${ref.module}#${ref.export ?? 'default'}`;
  const base = { input: input.array.dir, output: output.array.dir, outputPosition: output.group, fn: ref, kwargs, skipEmpty: options.skipEmpty ?? true };
  const tasks: UnitTask[] = units.map((unit) => ({ ...base, unit, fingerprint: fingerprint({ input: base.input, fn: fnId, kwargs, unit }) }));

  const results: UnitResult[] = [];
  const report = (r: UnitResult) => {
    results.push(r);
    options.onUnit?.(r);
  };
  let pending = tasks;
  if (options.resume) {
    // No unit of this position runs yet, so this process's own temp files there are litter too;
    // another host's may belong to a live writer (a job run twice) and stay.
    await sweepStaleTempFiles(output.array.dir, { includeOwn: true });
    await sweepStaleTempFiles(path.join(output.group, MARKER_DIR), { includeOwn: true });
    const todo: UnitTask[] = [];
    for (const task of tasks) {
      if (await readDone(output.group, task.unit, task.fingerprint)) {
        await settleDone(output.group, task.unit);
        report({ unit: task.unit, status: 'already-done', seconds: 0 });
      } else todo.push(task);
    }
    pending = todo;
  } else {
    await clearMarkers(output.group);
  }
  await ensureDir(path.join(output.group, MARKER_DIR));

  const workers = Math.max(1, Math.min(requested, availableCpus(), pending.length));
  const parallel = requested > 1 && pending.length > 1;
  if (parallel && typeof fn === 'function') {
    throw new ConfigError(`executor "${executor}" needs the function as { module, export } (a function object cannot be sent to another ${executor === 'threads' ? 'thread' : 'process'})`, { option: 'fn' });
  }
  if (parallel) {
    try {
      structuredClone(kwargs);
    } catch (err) {
      throw new ConfigError(`kwargs cannot be sent to workers: ${(err as Error).message}`, { option: 'kwargs' });
    }
  }

  const toResult = (o: UnitOutcome): UnitResult => ({ unit: o.unit, status: o.status, ...(o.reason !== undefined ? { reason: o.reason } : {}), seconds: o.seconds });
  if (!parallel) {
    for (const task of pending) {
      if (options.signal?.aborted) throw new AbortError(options.signal.reason);
      report(toResult(await runUnit(task, typeof fn === 'function' ? fn : undefined, options.signal)));
    }
  } else {
    await runPooled(executor === 'threads' ? threadPool(workers) : processPool(workers), pending, workers, (o) => report(toResult(o)), options.signal);
  }
  return {
    units: results,
    processed: results.filter((r) => r.status === 'done').length,
    skippedEmpty: results.filter((r) => r.status === 'skipped-empty').length,
    alreadyDone: results.filter((r) => r.status === 'already-done').length,
    workers: parallel ? workers : 1,
    executor: parallel ? executor : 'serial',
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Feeds units to `pool` with `workers` in flight. The first failure stops new units; those already
 * running finish (their markers stay valid) unless a worker died or the run was aborted, in which
 * case the pool is torn down at once.
 */
async function runPooled(pool: UnitPool, tasks: readonly UnitTask[], workers: number, onDone: (o: UnitOutcome) => void, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: unknown;
  let force = false;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      if (signal?.aborted) {
        failure ??= new AbortError(signal.reason);
        force = true;
        return;
      }
      const task = tasks[next++]!;
      try {
        onDone(await pool.run(task, signal));
      } catch (err) {
        if (failure === undefined) failure = signal?.aborted ? new AbortError(signal.reason) : err;
        if (signal?.aborted || (err as { code?: string }).code === 'E_TASK_KILLED') {
          force = true;
          void pool.close(true);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, lane));
  } finally {
    await pool.close(force);
  }
  if (failure !== undefined) throw failure;
}
