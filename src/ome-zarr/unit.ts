/**
 * One unit of `processPosition`: read the C×Z×Y×X volume of one timepoint and channel group,
 * skip it when a channel is empty, apply the function, write the output volume, mark it done.
 *
 * The same `runUnit` runs in the caller's thread (serial), in a worker thread and in a child
 * process, so the three executors cannot drift apart. Every unit opens its arrays itself and
 * drops them when it returns: no handle outlives a unit (iohub's leak was a handle per worker).
 *
 * @module
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { PlateflowError, StepFailedError } from '../errors.js';
import { allocate, type DType, type PixelArray } from '../image.js';
import { ZarrArray } from '../storage/zarr-array.js';
import { markDone, markInProgress, type UnitSpec } from './markers.js';

/** A C×Z×Y×X block of one timepoint, C-order. */
export interface Volume {
  readonly dtype: DType;
  readonly shape: readonly [number, number, number, number];
  readonly data: PixelArray;
}

export interface UnitContext {
  readonly t: number;
  readonly channels: readonly number[];
  readonly outT: number;
  readonly outChannels: readonly number[];
  readonly signal?: AbortSignal;
}

/**
 * The per-volume function. Returns the output volume, or just its data (then shaped
 * [output channels, Z, Y, X] of the output array). Any dtype: values are cast to the output
 * array's dtype (rounded and clamped for integer outputs).
 */
export type VolumeFunction = (volume: Volume, kwargs: Readonly<Record<string, unknown>>, ctx: UnitContext) => Volume | PixelArray | Promise<Volume | PixelArray>;

/** A function other threads and processes can load: an ES module and the name of its export. */
export interface FunctionRef {
  /** File path (relative to the working directory, or absolute), `file:` URL, or package name. */
  readonly module: string;
  /** @defaultValue 'default' */
  readonly export?: string;
}

/** Everything a worker needs for one unit: plain data, structured-clone safe. */
export interface UnitTask {
  readonly input: string;
  readonly output: string;
  /** Output position group (markers live there). */
  readonly outputPosition: string;
  readonly unit: UnitSpec;
  readonly fn: FunctionRef;
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly skipEmpty: boolean;
  readonly fingerprint: string;
}

export interface UnitOutcome {
  readonly unit: UnitSpec;
  readonly status: 'done' | 'skipped-empty';
  readonly reason?: string;
  readonly seconds: number;
}

/** `./f.mjs` → `file:///abs/f.mjs`; URLs and bare package names pass through. */
export function resolveModule(specifier: string, cwd = process.cwd()): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !/^[A-Za-z]:[\\/]/.test(specifier)) return specifier;
  if (specifier.startsWith('.') || specifier.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier)) {
    return pathToFileURL(path.resolve(cwd, specifier)).href;
  }
  return specifier;
}

const loaded = new Map<string, Promise<VolumeFunction>>();

/** Imports the function once per thread/process. */
export function loadFunction(ref: FunctionRef): Promise<VolumeFunction> {
  const name = ref.export ?? 'default';
  const key = `${ref.module}#${name}`;
  let fn = loaded.get(key);
  if (!fn) {
    fn = (async () => {
      const mod = (await import(ref.module)) as Record<string, unknown>;
      const f = mod[name];
      if (typeof f !== 'function') throw new PlateflowError('E_MODULE_LOAD', `${ref.module} has no function export "${name}"`, { file: ref.module });
      return f as VolumeFunction;
    })();
    loaded.set(key, fn);
    fn.catch(() => loaded.delete(key));
  }
  return fn;
}

/** Why a volume is skipped: a channel that is all zeros or all NaN; undefined when none is. */
export function emptyChannel(volume: Volume): string | undefined {
  const [c, z, y, x] = volume.shape;
  const size = z * y * x;
  for (let i = 0; i < c; i++) {
    const block = volume.data.subarray(i * size, (i + 1) * size);
    let anyValue = false;
    let allNaN = volume.dtype === 'float32';
    for (let k = 0; k < block.length; k++) {
      const v = block[k]!;
      if (v !== 0 && !Number.isNaN(v)) {
        anyValue = true;
        break;
      }
      if (!Number.isNaN(v)) allNaN = false;
    }
    if (!anyValue) return allNaN && size > 0 ? `channel index ${i} is all NaN` : `channel index ${i} is all zeros`;
  }
  return undefined;
}

export async function readVolume(arr: ZarrArray, t: number, channels: readonly number[], signal?: AbortSignal): Promise<Volume> {
  const [, , z, y, x] = arr.shape as [number, number, number, number, number];
  const plane = y * x;
  const data = allocate(arr.dtype, channels.length * z * plane);
  for (let ci = 0; ci < channels.length; ci++) {
    for (let zi = 0; zi < z; zi++) {
      const p = await arr.readPlane([t, channels[ci]!, zi], signal ? { signal } : {});
      (data as PixelArray).set(p as never, (ci * z + zi) * plane);
    }
  }
  return { dtype: arr.dtype, shape: [channels.length, z, y, x], data };
}

const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
};

/** `data` as `dtype`: the same array when it already is; else rounded and clamped (NaN → 0) for integers. */
export function castTo(data: PixelArray, dtype: DType): PixelArray {
  if (data.constructor === allocate(dtype, 0).constructor) return data;
  const out = allocate(dtype, data.length);
  const range = INT_RANGE[dtype];
  if (!range) {
    (out as PixelArray).set(data as never);
    return out;
  }
  const [lo, hi] = range;
  for (let i = 0; i < data.length; i++) {
    const v = Math.round(data[i]!);
    out[i] = Number.isNaN(v) ? 0 : v < lo ? lo : v > hi ? hi : v;
  }
  return out;
}

/** Runs one unit to its done marker. @throws StepFailedError when the function throws or returns a wrong shape. */
export async function runUnit(task: UnitTask, fnOverride?: VolumeFunction, signal?: AbortSignal): Promise<UnitOutcome> {
  const started = performance.now();
  const { unit } = task;
  const label = `unit t=${unit.t} c=[${unit.channels.join(',')}]`;
  await markInProgress(task.outputPosition, unit, task.fingerprint);
  const input = await ZarrArray.open(task.input);
  const volume = await readVolume(input, unit.t, unit.channels, signal);
  const empty = task.skipEmpty ? emptyChannel(volume) : undefined;
  if (empty !== undefined) {
    await markDone(task.outputPosition, { unit, fingerprint: task.fingerprint, status: 'skipped-empty', reason: empty, finishedAt: new Date().toISOString() });
    return { unit, status: 'skipped-empty', reason: empty, seconds: (performance.now() - started) / 1000 };
  }
  const output = await ZarrArray.open(task.output);
  const [, , oz, oy, ox] = output.shape as [number, number, number, number, number];
  const expected = unit.outChannels.length * oz * oy * ox;
  const fnName = fnOverride ? fnOverride.name || '(function)' : `${task.fn.module}#${task.fn.export ?? 'default'}`;
  let data: PixelArray;
  try {
    const fn = fnOverride ?? (await loadFunction(task.fn));
    const ctx: UnitContext = { t: unit.t, channels: unit.channels, outT: unit.outT, outChannels: unit.outChannels, ...(signal ? { signal } : {}) };
    const produced = await fn(volume, task.kwargs, ctx);
    data = ArrayBuffer.isView(produced) ? (produced as PixelArray) : (produced as Volume).data;
    if (!ArrayBuffer.isView(data)) throw new TypeError('the function must return a Volume or a typed array');
    if (data.length !== expected) {
      throw new RangeError(`returned ${data.length} values; the output needs ${unit.outChannels.length}×${oz}×${oy}×${ox} = ${expected} (channels × z × y × x)`);
    }
  } catch (err) {
    throw new StepFailedError(`${task.input} ${label}`, 'processPosition', fnName, err);
  }
  const out = castTo(data, output.dtype);
  const plane = oy * ox;
  const writes: Promise<void>[] = [];
  for (let ci = 0; ci < unit.outChannels.length; ci++) {
    for (let zi = 0; zi < oz; zi++) {
      const start = (ci * oz + zi) * plane;
      writes.push(output.writePlane([unit.outT, unit.outChannels[ci]!, zi], out.subarray(start, start + plane) as PixelArray));
    }
  }
  await Promise.all(writes);
  await markDone(task.outputPosition, { unit, fingerprint: task.fingerprint, status: 'done', finishedAt: new Date().toISOString() });
  return { unit, status: 'done', seconds: (performance.now() - started) / 1000 };
}
