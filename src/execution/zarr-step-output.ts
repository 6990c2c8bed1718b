/**
 * Disk steps that write an OME-Zarr plate instead of TIFF files (`--output-format ome-zarr`).
 *
 * At the end of such a step, the task's output planes are grouped by (well, site); each group
 * becomes one position of the step's plate, a TCZYX array over the naturally sorted timepoint,
 * channel and z values of its planes:
 *
 * ```
 * <output root>/<step id>.zarr/           plate (rows, columns, wells: kept sorted)
 *   B/3/                                  well B03 (fields: kept sorted)
 *     1/                                  site 1: image group, `plateflow` attribute keeps the
 *       0/                                        original component values of every index
 * ```
 *
 * A task owns whole positions (the compiler allows only well and site on the axis). It writes them
 * in place: metadata rewritten, every plane's chunks renamed over the old ones, then chunk files
 * it did not write (left by an outdated run with another grid) removed. It never deletes a whole
 * position first, so a second writer of the same plan still running (a process worker orphaned
 * by a killed run, a BullMQ job redelivered while the first attempt lives) converges on the same
 * files instead of deleting the other's finished chunks. The plate and well documents are shared
 * with the other tasks: `addPosition` updates them under a lock, in sorted order, so no task loses
 * another's entries and the bytes do not depend on which task came first. The checkpoint then
 * lists every file of the task's positions with its size (what resume verifies) and every plane
 * (what a resumed task reloads through the zarr backend).
 *
 * Each position gets the default multiscale levels (`ome-zarr/pyramid.ts`: below 1024 px), and the
 * source plate's channel names and voxel size (`plan.plate.acquisition`) as labels and scales.
 *
 * @module
 */
import type { Dirent } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointFile, CheckpointPlane } from '../storage/checkpoints.js';
import { ngffOfOutput } from '../compiler/output-format.js';
import type { StepPlan, TaskPlan } from '../compiler/plan.js';
import { DEFAULT_COMPONENT_VALUE, isStandardComponent } from '../components/names.js';
import { naturalCompare, sortValues } from '../components/natural-sort.js';
import { ConfigError, StepFailedError } from '../errors.js';
import { allocate, dtypeOf, planeOf, type DType, type PixelArray } from '../image.js';
import { mapLimit } from '../ome-zarr/concurrency.js';
import { positionPath, type PositionSpec } from '../ome-zarr/layout.js';
import { addPosition } from '../ome-zarr/plate-writer.js';
import { levelCount, pyramidArrays, writePlaneLevels } from '../ome-zarr/pyramid.js';
import type { FileManager } from '../storage/file-manager.js';
import { isTempName } from '../storage/zarr-io.js';

/** One output plane of the step, as the step left it in the task's memory backend. */
export interface StepPlaneRef {
  readonly components: Readonly<Record<string, string>>;
  readonly memoryKey: string;
}

export interface ZarrStepWritten {
  /** Every file of the task's positions (group and array documents, chunks), with its size. */
  readonly files: CheckpointFile[];
  readonly planes: CheckpointPlane[];
  /** The task's positions (image groups), relative to the output root, e.g. `1_project.zarr/B/3/1`. */
  readonly outputs: string[];
}

const AXES = [
  ['t', 'timepoint'],
  ['c', 'channel'],
  ['z', 'z'],
] as const;

/** Positions created at once (each takes the plate lock briefly), planes compressed and written at once. */
const POSITION_CONCURRENCY = 4;
const PLANE_CONCURRENCY = 8;

interface PositionPlan {
  readonly well: string;
  readonly site: string;
  /** Image group relative to the step's plate, e.g. `B/3/1`. */
  readonly rel: string;
  readonly values: { readonly t: string[]; readonly c: string[]; readonly z: string[] };
  readonly extra: Record<string, string>;
  readonly planes: { readonly ref: StepPlaneRef; readonly index: { t: number; c: number; z: number }; dtype?: DType }[];
}

/** Dtypes each dtype converts to without changing any value. */
const WIDENS_TO: Readonly<Record<DType, readonly DType[]>> = {
  uint8: ['uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'],
  int8: ['int16', 'int32', 'float32', 'float64'],
  uint16: ['uint32', 'int32', 'float32', 'float64'],
  int16: ['int32', 'float32', 'float64'],
  // 32-bit integers do stay exact in float64, but doubling their storage silently is worse than
  // asking for TIFF output; only float32 widens to float64 (for float64 planes beside it).
  uint32: [],
  int32: [],
  float32: ['float64'],
  float64: [],
};
const NARROWEST_FIRST: readonly DType[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'];

/** The narrowest dtype that holds every value of every one of `dtypes` exactly, or undefined (e.g. uint32 with float32). */
export function commonDType(dtypes: Iterable<DType>): DType | undefined {
  const all = [...dtypes];
  return NARROWEST_FIRST.find((to) => all.every((from) => from === to || WIDENS_TO[from].includes(to)));
}

/** `data` as `dtype`: the same array when it already is, else a converted copy (exact for the widenings above and back). */
export function asDType(data: PixelArray, dtype: DType): PixelArray {
  if (dtypeOf(data) === dtype) return data;
  const out = allocate(dtype, data.length);
  (out as PixelArray).set(data as never);
  return out;
}

/**
 * Writes the task's output planes of `step` as positions of the step's OME-Zarr plate.
 *
 * @throws StepFailedError (cause ConfigError) when the planes do not fit OME-Zarr positions: no
 *   well, a site that cannot name a field, another component varying inside a position, two planes
 *   on one (t, c, z), or mixed sizes / dtypes in a position.
 * @throws ZarrError, StorageError from writing; AbortError when `signal` is aborted.
 */
export async function writeZarrStep(plan: TaskPlan, step: StepPlan, refs: readonly StepPlaneRef[], files: FileManager, signal?: AbortSignal): Promise<ZarrStepWritten> {
  const ngff = ngffOfOutput(step.outputFormat);
  if (ngff === undefined || step.outputDir === null) throw new Error(`step ${step.id} does not write OME-Zarr`);
  const root = step.outputDir;
  const stepDir = path.basename(root);
  const fail = (message: string) => new StepFailedError(plan.taskId, step.name, undefined, new ConfigError(`${message}; write this step with --output-format tiff instead`, { step: step.name }));
  const positions = planPositions(refs, fail);
  const acquisition = plan.plate.acquisition;
  const names = acquisition?.channels ?? {};

  const arrays = await mapLimit(
    positions,
    POSITION_CONCURRENCY,
    async (pos) => {
      const first = await files.load('memory', pos.planes[0]!.ref.memoryKey, signal ? { signal } : {});
      const [, y, x] = first.shape;
      const dtypes = new Set<DType>();
      for (const p of pos.planes) {
        const s = await files.load('memory', p.ref.memoryKey);
        if (s.shape[1] !== y || s.shape[2] !== x) throw fail(`position ${pos.well} site ${pos.site} mixes ${y}×${x} and ${s.shape[1]}×${s.shape[2]} planes; one OME-Zarr array holds one plane size`);
        dtypes.add(s.dtype);
        p.dtype = s.dtype;
      }
      // One array, one dtype: planes of other dtypes are widened to one that holds them all exactly.
      const dtype = commonDType(dtypes);
      if (dtype === undefined) throw fail(`position ${pos.well} site ${pos.site} mixes ${[...dtypes].join(' and ')} planes, which no one dtype holds exactly`);
      const sizes = { t: pos.values.t.length, c: pos.values.c.length, z: pos.values.z.length };
      const written = new Set(pos.planes.map((p) => (p.index.t * sizes.c + p.index.c) * sizes.z + p.index.z));
      const absent = Array.from({ length: sizes.t * sizes.c * sizes.z }, (_, i) => i).filter((i) => !written.has(i));
      const spec: PositionSpec = {
        well: pos.well,
        field: pos.rel.split('/')[2]!,
        shape: { ...sizes, y, x },
        dtype,
        channelLabels: pos.values.c.map((c) => names[c] ?? c),
        levels: levelCount(y, x),
        ...(acquisition?.pixelSize ? { pixelSize: acquisition.pixelSize } : {}),
        plateflow: {
          well: pos.well,
          site: pos.site,
          timepoints: pos.values.t,
          channels: pos.values.c,
          z: pos.values.z,
          source: plan.plate.format,
          ...(Object.keys(pos.extra).length > 0 ? { extra: pos.extra } : {}),
          ...(absent.length > 0 ? { absent } : {}),
        },
      };
      return addPosition(root, spec, { ngff, order: 'sorted', replace: true, name: path.basename(plan.plate.root) });
    },
    signal,
  );

  const jobs = positions.flatMap((pos, i) => pos.planes.map((p) => ({ array: arrays[i]!, p })));
  await mapLimit(
    jobs,
    PLANE_CONCURRENCY,
    async ({ array, p }) => {
      const stack = await files.load('memory', p.ref.memoryKey, signal ? { signal } : {});
      await writePlaneLevels(array, [p.index.t, p.index.c, p.index.z], asDType(planeOf(stack, 0), array.dtype));
    },
    signal,
  );

  const written: CheckpointFile[] = [];
  for (const [i, pos] of positions.entries()) {
    for (const level of await pyramidArrays(arrays[i]!)) {
      const ours = new Set(pos.planes.flatMap((p) => level.planeChunkKeys([p.index.t, p.index.c, p.index.z])));
      await removeStaleChunks(level.dir, ours);
    }
    for (const file of await listFiles(path.join(root, pos.rel))) {
      const bytes = (await stat(file)).size;
      written.push({ path: path.relative(path.dirname(root), file).split(path.sep).join('/'), bytes, components: {} });
    }
  }
  written.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const planes = positions.flatMap((pos, i) =>
    pos.planes.map((p) => ({
      array: `${stepDir}/${pos.rel}/0`,
      page: (p.index.t * pos.values.c.length + p.index.c) * pos.values.z.length + p.index.z,
      components: p.ref.components,
      ...(p.dtype !== undefined && p.dtype !== arrays[i]!.dtype ? { dtype: p.dtype } : {}),
    })),
  );
  return { files: written, planes, outputs: positions.map((pos) => `${stepDir}/${pos.rel}`) };
}

/** `plateflow_metadata.json` entries of an OME-Zarr step: `<array>#<page>` (relative to the step's plate) → components. */
export function zarrMetadataFiles(step: StepPlan, planes: readonly CheckpointPlane[]): Record<string, Readonly<Record<string, string>>> {
  const prefix = `${path.basename(step.outputDir!)}/`;
  const entries: Record<string, Readonly<Record<string, string>>> = {};
  for (const p of planes) entries[`${p.array.startsWith(prefix) ? p.array.slice(prefix.length) : p.array}#${p.page}`] = p.components;
  return entries;
}

function planPositions(refs: readonly StepPlaneRef[], fail: (message: string) => Error): PositionPlan[] {
  const groups = new Map<string, { well: string; site: string; refs: StepPlaneRef[] }>();
  for (const ref of refs) {
    const well = ref.components['well'];
    if (well === undefined) throw fail(`an output plane has no well (${describe(ref.components)}); OME-Zarr positions are per well`);
    const site = ref.components['site'] ?? DEFAULT_COMPONENT_VALUE;
    const key = `${well}\u0000${site}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { well, site, refs: [] }));
    g.refs.push(ref);
  }
  const sorted = [...groups.values()].sort((a, b) => naturalCompare(a.well, b.well) || naturalCompare(a.site, b.site));
  return sorted.map((g) => {
    if (!/^[A-Za-z0-9]+$/.test(g.site)) throw fail(`site "${g.site}" of well ${g.well} cannot name an OME-Zarr field (letters and digits only)`);
    const valueOf = (ref: StepPlaneRef, component: string) => ref.components[component] ?? DEFAULT_COMPONENT_VALUE;
    const values = { t: [] as string[], c: [] as string[], z: [] as string[] };
    for (const [axis, component] of AXES) values[axis] = sortValues(component, new Set(g.refs.map((r) => valueOf(r, component))));
    const extra: Record<string, string> = {};
    const names = new Set(g.refs.flatMap((r) => Object.keys(r.components)).filter((n) => !isStandardComponent(n)));
    for (const name of [...names].sort(naturalCompare)) {
      const seen = new Set(g.refs.map((r) => r.components[name] ?? '(none)'));
      if (seen.size > 1 || seen.has('(none)')) {
        throw fail(`component "${name}" varies inside position ${g.well} site ${g.site} (${[...seen].sort(naturalCompare).join(', ')}); an OME-Zarr position holds only timepoint, channel and z planes`);
      }
      extra[name] = [...seen][0]!;
    }
    const taken = new Map<string, StepPlaneRef>();
    const planes = g.refs.map((ref) => {
      const index = { t: values.t.indexOf(valueOf(ref, 'timepoint')), c: values.c.indexOf(valueOf(ref, 'channel')), z: values.z.indexOf(valueOf(ref, 'z')) };
      const key = `${index.t}/${index.c}/${index.z}`;
      const other = taken.get(key);
      if (other) throw fail(`two output planes of well ${g.well} site ${g.site} fall on the same (timepoint, channel, z): ${describe(other.components)} and ${describe(ref.components)}`);
      taken.set(key, ref);
      return { ref, index };
    });
    return { well: g.well, site: g.site, rel: positionPath(g.well, g.site), values, extra, planes };
  });
}

function describe(components: Readonly<Record<string, string>>): string {
  return Object.entries(components)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Array metadata documents, which sit beside the chunks in the array directory. */
const ARRAY_DOCUMENTS = new Set(['zarr.json', '.zarray', '.zattrs']);

/** Removes chunk files of `arrayDir` that are not in `ours` (e.g. planes of an older, larger grid). */
async function removeStaleChunks(arrayDir: string, ours: ReadonlySet<string>): Promise<void> {
  for (const file of await listFiles(arrayDir)) {
    const rel = path.relative(arrayDir, file).split(path.sep).join('/');
    if (!ours.has(rel) && !ARRAY_DOCUMENTS.has(rel)) await rm(file, { force: true });
  }
}

/** Every file under `dir` (absolute paths), temp files of other writers excluded. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries: Dirent[] = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && !isTempName(e.name)) out.push(full);
    }
  };
  await walk(dir);
  return out;
}
