/**
 * OME-NGFF metadata for HCS plates, versions 0.4 (Zarr v2, attributes in `.zattrs`) and 0.5
 * (Zarr v3, attributes under the `ome` key of `zarr.json`): builders for what we write, and
 * validating parsers for what we read.
 *
 * ```
 * 0.4  .zattrs                              0.5  zarr.json "attributes"
 * plate.zarr/      {plate: {version, …}}         {ome: {version, plate: {…}}}
 *   A/1/           {well: {version, images}}     {ome: {version, well: {images}}}
 *     0/           {multiscales: [{version,…}],  {ome: {version, multiscales: [{…}],
 *                   omero: {channels}}                   omero: {channels}}}
 *       0/         TCZYX array                   TCZYX array (dimension_names t,c,z,y,x)
 * ```
 *
 * Field names and constraints follow the NGFF JSON schemas (plate, well, image) of each version;
 * names from metadata are checked against the schemas' patterns (`^[A-Za-z0-9]+$` for rows,
 * columns and fields), which also keeps `..` and absolute paths out.
 *
 * @module
 */
import { z } from 'zod';
import { ZarrError } from '../errors.js';
import type { DType } from '../image.js';
import type { PixelSize, StagePosition } from '../microscopes/types.js';
import { assertSafeRelativePath } from '../storage/safe-path.js';
import type { ZarrVersion } from '../storage/zarr-format.js';
import { isObject } from '../storage/zarr-io.js';

export type NgffVersion = '0.4' | '0.5';
export const NGFF_VERSIONS: readonly NgffVersion[] = Object.freeze(['0.4', '0.5']);

export function zarrVersionOf(version: NgffVersion): ZarrVersion {
  return version === '0.4' ? 2 : 3;
}

/** `'0.4'`, `'0.5'`, `'@0.4'`, `0.5` → the version; anything else throws RangeError. */
export function parseNgffVersion(value: string | number): NgffVersion {
  const text = String(value).replace(/^@/, '');
  if (text === '0.4' || text === '0.5') return text;
  throw new RangeError(`NGFF version must be 0.4 (zarr v2) or 0.5 (zarr v3), got "${value}"`);
}

const NAME = /^[A-Za-z0-9]+$/;
const WELL_PATH = /^[A-Za-z0-9]+\/[A-Za-z0-9]+$/;

const plateSchema = z.object({
  name: z.string().optional(),
  version: z.string().optional(),
  field_count: z.number().int().positive().optional(),
  acquisitions: z.array(z.object({ id: z.number().int().nonnegative(), name: z.string().optional(), maximumfieldcount: z.number().int().positive().optional() }).loose()).optional(),
  rows: z.array(z.object({ name: z.string().regex(NAME) }).loose()).min(1),
  columns: z.array(z.object({ name: z.string().regex(NAME) }).loose()).min(1),
  wells: z.array(z.object({ path: z.string().regex(WELL_PATH), rowIndex: z.number().int().nonnegative(), columnIndex: z.number().int().nonnegative() }).loose()).min(1),
}).loose();

const wellSchema = z.object({
  version: z.string().optional(),
  images: z.array(z.object({ path: z.string().regex(NAME), acquisition: z.number().int().optional() }).loose()).min(1),
}).loose();

const axisSchema = z.object({ name: z.string().min(1), type: z.string().optional(), unit: z.string().optional() }).loose();
const transformSchema = z.object({ type: z.string(), scale: z.array(z.number()).optional(), translation: z.array(z.number()).optional() }).loose();
const multiscaleSchema = z.object({
  version: z.string().optional(),
  name: z.string().optional(),
  axes: z.array(axisSchema).min(2).max(5),
  datasets: z.array(z.object({ path: z.string().min(1), coordinateTransformations: z.array(transformSchema).min(1) }).loose()).min(1),
}).loose();
const omeroSchema = z.object({
  channels: z.array(
    z.object({
      label: z.string().optional(),
      color: z.string().optional(),
      active: z.boolean().optional(),
      window: z.object({ start: z.number(), end: z.number(), min: z.number(), max: z.number() }).loose().optional(),
    }).loose(),
  ),
}).loose();

export type PlateMetadata = z.infer<typeof plateSchema>;
export type WellMetadata = z.infer<typeof wellSchema>;
export type MultiscaleMetadata = z.infer<typeof multiscaleSchema>;
export type OmeroMetadata = z.infer<typeof omeroSchema>;
export type Axis = z.infer<typeof axisSchema>;

/** The NGFF namespace of a group's attributes: `attrs.ome` (0.5+) or the attributes themselves (≤ 0.4). */
function namespace(attrs: Record<string, unknown>): { ns: Record<string, unknown>; version: string | undefined } {
  const ome = attrs['ome'];
  if (isObject(ome)) return { ns: ome, version: typeof ome['version'] === 'string' ? ome['version'] : undefined };
  return { ns: attrs, version: undefined };
}

function validate<T>(schema: z.ZodType<T>, value: unknown, where: string, key: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const at = [key, ...issue.path.map(String)].join('.');
  throw new ZarrError(where, `invalid NGFF "${key}" metadata at ${at}: ${issue.message}`, { jsonPath: at });
}

export interface ParsedPlate {
  readonly version: string;
  readonly plate: PlateMetadata;
}

/** @throws ZarrError (`E_ZARR_INVALID`) when `attrs` has no valid `plate` metadata. */
export function parsePlate(attrs: Record<string, unknown>, where: string): ParsedPlate {
  const { ns, version } = namespace(attrs);
  if (!('plate' in ns)) throw new ZarrError(where, 'not an OME-Zarr plate: the root group has no "plate" attributes');
  const plate = validate(plateSchema, ns['plate'], where, 'plate');
  for (const w of plate.wells) {
    if (w.rowIndex >= plate.rows.length || w.columnIndex >= plate.columns.length) {
      throw new ZarrError(where, `well ${w.path} points at row ${w.rowIndex} / column ${w.columnIndex}, outside the plate's rows and columns`);
    }
  }
  return { version: version ?? plate.version ?? '0.4', plate };
}

/** @throws ZarrError when `attrs` has no valid `well` metadata. */
export function parseWell(attrs: Record<string, unknown>, where: string): WellMetadata {
  const { ns } = namespace(attrs);
  if (!('well' in ns)) throw new ZarrError(where, 'not an OME-Zarr well: the group has no "well" attributes');
  return validate(wellSchema, ns['well'], where, 'well');
}

export interface ParsedImage {
  readonly multiscale: MultiscaleMetadata;
  readonly omero: OmeroMetadata | undefined;
  /** plateflow's own record of the source components, when the image was written by plateflow. */
  readonly plateflow: PlateflowImageAttrs | undefined;
}

/** @throws ZarrError when `attrs` has no valid `multiscales`, or a dataset path is unsafe. */
export function parseImage(attrs: Record<string, unknown>, where: string): ParsedImage {
  const { ns } = namespace(attrs);
  if (!Array.isArray(ns['multiscales']) || ns['multiscales'].length === 0) {
    throw new ZarrError(where, 'not an OME-Zarr image: the group has no "multiscales" attributes');
  }
  const multiscale = validate(multiscaleSchema, ns['multiscales'][0], where, 'multiscales');
  for (const d of multiscale.datasets) {
    try {
      assertSafeRelativePath(d.path);
    } catch (err) {
      throw new ZarrError(where, `dataset path ${JSON.stringify(d.path)} is not a safe relative path`, {}, { cause: err });
    }
  }
  const omero = ns['omero'] === undefined ? undefined : validate(omeroSchema, ns['omero'], where, 'omero');
  const pf = plateflowAttrsSchema.safeParse(attrs[PLATEFLOW_KEY]);
  return { multiscale, omero, plateflow: pf.success ? pf.data : undefined };
}

// ---- what we write ------------------------------------------------------------------------

/** Key of plateflow's own (non-NGFF) attributes on an image group; other readers ignore it. */
export const PLATEFLOW_KEY = 'plateflow';

/** The component values each index of the TCZYX array stands for, so discovery can give them back. */
const plateflowAttrsSchema = z.object({
  well: z.string(),
  site: z.string(),
  timepoints: z.array(z.string()),
  channels: z.array(z.string()),
  z: z.array(z.string()),
  source: z.string().optional(),
  /** Other components with one value in the whole position (pipeline output of plates that have them). */
  extra: z.record(z.string(), z.string()).optional(),
  /** Flat indices of planes that were never written (pipeline output with gaps in its T×C×Z grid); discovery skips them. */
  absent: z.array(z.number().int().nonnegative()).optional(),
});
export type PlateflowImageAttrs = z.infer<typeof plateflowAttrsSchema>;

export const TCZYX_AXES: readonly Axis[] = Object.freeze([
  { name: 't', type: 'time' },
  { name: 'c', type: 'channel' },
  { name: 'z', type: 'space' },
  { name: 'y', type: 'space' },
  { name: 'x', type: 'space' },
]);

function withNamespace(version: NgffVersion, key: string, value: Record<string, unknown>): Record<string, unknown> {
  return version === '0.4' ? { [key]: { ...value, version } } : { ome: { version, [key]: value } };
}

export interface PlateSpec {
  /** Required by the strict NGFF plate schema; also names the plate's one acquisition. */
  readonly name: string;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly wells: readonly { readonly row: string; readonly column: string }[];
  readonly fieldCount: number;
}

/** Root-group attributes of a plate. Wells are listed in the order given. */
export function plateAttributes(version: NgffVersion, spec: PlateSpec): Record<string, unknown> {
  const plate = {
    name: spec.name,
    rows: spec.rows.map((name) => ({ name })),
    columns: spec.columns.map((name) => ({ name })),
    wells: spec.wells.map((w) => ({ path: `${w.row}/${w.column}`, rowIndex: spec.rows.indexOf(w.row), columnIndex: spec.columns.indexOf(w.column) })),
    field_count: spec.fieldCount,
    // The strict schemas want every acquisition named; plateflow writes one, named after the plate.
    acquisitions: [{ id: 0, name: spec.name, maximumfieldcount: spec.fieldCount }],
  };
  return withNamespace(version, 'plate', plate);
}

export function wellAttributes(version: NgffVersion, fields: readonly string[]): Record<string, unknown> {
  return withNamespace(version, 'well', { images: fields.map((path) => ({ path, acquisition: 0 })) });
}

export interface ImageSpec {
  readonly name: string;
  readonly dtype: DType;
  /** `omero` channel labels: the channel names when the source has them, else the channel values. */
  readonly channelLabels: readonly string[];
  /** Physical voxel size; the axes get units and the scales get values only when it is known. */
  readonly pixelSize?: PixelSize;
  /** Multiscale levels `0` … `levels - 1`, each 2× smaller in y and x (see `pyramid.ts`). @defaultValue 1 */
  readonly levels?: number;
  /** Stage position of the field (µm), written as each level's translation when the pixel size is known. */
  readonly origin?: StagePosition;
  readonly plateflow?: PlateflowImageAttrs;
}

const COLORS = ['0000FF', '00FF00', 'FF0000', 'FF00FF', '00FFFF', 'FFFF00', 'FFFFFF'];
const DTYPE_MAX: Readonly<Record<DType, number>> = { uint8: 255, int8: 127, uint16: 65535, int16: 32767, uint32: 4294967295, int32: 2147483647, float32: 1, float64: 1 };

/** Twelve significant digits, so 0.1 µm × 8 is written 0.8, not 0.8000000000000002. */
const tidy = (v: number): number => Number(v.toPrecision(12));

/** TCZYX axes, with `micrometer` on the spatial axes whose size is known. */
function axesFor(pixelSize: PixelSize | undefined): Axis[] {
  return TCZYX_AXES.map((a) => {
    const known = a.name === 'z' ? pixelSize?.z !== undefined : a.type === 'space' && pixelSize !== undefined;
    return known ? { ...a, unit: 'micrometer' } : { ...a };
  });
}

/**
 * Image-group attributes: one multiscale (TCZYX, one dataset per level, scaled by the voxel size
 * and 2^level in y and x) and the `omero` channel list. The fields the strict NGFF schemas ask for
 * (`name`, `type`, `metadata`, and in 0.4 `version`) are always written.
 */
export function imageAttributes(version: NgffVersion, spec: ImageSpec): Record<string, unknown> {
  const p = spec.pixelSize;
  const levels = spec.levels ?? 1;
  // A position in micrometres only means something on axes that are in micrometres.
  const o = spec.origin;
  const positioned = p !== undefined && o !== undefined && (o.x !== undefined || o.y !== undefined);
  // A level-n pixel is the mean of 2^n level-0 pixels, so its centre sits (2^n - 1)/2 pixels further on.
  const translation = (level: number): number[] => {
    const shift = (2 ** level - 1) / 2;
    return [0, 0, p!.z !== undefined ? (o!.z ?? 0) : 0, tidy((o!.y ?? 0) + shift * p!.y), tidy((o!.x ?? 0) + shift * p!.x)];
  };
  const multiscale = {
    ...(version === '0.4' ? { version } : {}),
    name: spec.name,
    axes: axesFor(p),
    datasets: Array.from({ length: levels }, (_, level) => ({
      path: String(level),
      coordinateTransformations: [
        { type: 'scale', scale: [1, 1, p?.z ?? 1, tidy((p?.y ?? 1) * 2 ** level), tidy((p?.x ?? 1) * 2 ** level)] },
        ...(positioned ? [{ type: 'translation', translation: translation(level) }] : []),
      ],
    })),
    type: 'local_mean',
    metadata: { description: 'each level is the mean of 2x2 blocks in y and x of the level before; t, c and z are not reduced', method: 'plateflow downsample2x', version: '1' },
  };
  const max = DTYPE_MAX[spec.dtype];
  const omero = {
    name: spec.name,
    version,
    channels: spec.channelLabels.map((label, i) => ({ label, color: COLORS[i % COLORS.length], active: true, window: { start: 0, end: max, min: 0, max } })),
  };
  const ngff = version === '0.4' ? { multiscales: [multiscale], omero } : { ome: { version, multiscales: [multiscale], omero } };
  return spec.plateflow ? { ...ngff, [PLATEFLOW_KEY]: spec.plateflow } : ngff;
}
