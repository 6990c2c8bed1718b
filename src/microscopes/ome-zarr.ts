/**
 * OME-Zarr HCS plates (NGFF 0.4 on zarr v2, 0.5 on zarr v3) as an input format.
 *
 * The plate is described by its metadata, not by file names: `index` reads the plate, well and
 * image groups (see `ome-zarr/plate-reader.ts`) and emits one record per Y×X plane, with
 * `path` = the position's full-resolution array (e.g. `B/3/0/0`) and `page` = the plane's flat
 * index over the array's leading axes (for TCZYX, (t·C + c)·Z + z). The zarr storage backend
 * reads exactly that plane.
 *
 * Components: `well` from the plate's row/column indices (`B03`); `site`, `channel`, `z`,
 * `timepoint` are 1-based positions (field order in the well, then array indices) — unless the
 * plate was written by plateflow, whose `plateflow` image attributes keep the source plate's
 * values, so a converted plate discovers with the same components as the original. Axes other
 * than t/c/z/y/x become components named after the axis.
 *
 * Detection needs the Zarr metadata documents in the listing (`zarr.json`, `.zattrs`, …), which
 * is why `listPlate` keeps those dot-files.
 *
 * @module
 */
import { isStandardComponent, isValidComponentName } from '../components/names.js';
import { normalizeWellId } from '../components/wells.js';
import { ZarrError } from '../errors.js';
import { isImageDType, leadingAxes, openOmeZarrPlate, type OmeZarrPosition } from '../ome-zarr/plate-reader.js';
import type { DetectResult, FormatHandler, HandlerIndex, PlateListing } from './handler.js';
import type { AcquisitionMetadata, ImageRecord, SkippedFile } from './types.js';

export const OME_ZARR_FORMAT = 'OME-Zarr';

/** Metadata of a level array: `<row>/<col>/<field>/<level>/(zarr.json|.zarray)`. */
const ARRAY_METADATA = /^[^/]+\/[^/]+\/[^/]+\/[^/]+\/(zarr\.json|\.zarray)$/;
const ROOT_METADATA = ['zarr.json', '.zgroup', '.zattrs'];

/** True when `format` (a `PlateIndex.format`) names OME-Zarr plates, whose records are zarr planes. */
export function isOmeZarrFormat(format: string): boolean {
  return format === OME_ZARR_FORMAT;
}

function detect(listing: PlateListing): DetectResult {
  if (!listing.files.some((f) => ROOT_METADATA.includes(f))) {
    return { ok: false, reason: 'no zarr.json or .zgroup at the top of the folder (an OME-Zarr plate is <plate>.zarr/<row>/<col>/<field>/0)' };
  }
  if (!listing.files.some((f) => ARRAY_METADATA.test(f))) {
    return { ok: false, reason: 'a Zarr group, but with no <row>/<col>/<field>/<level> arrays: not an HCS plate' };
  }
  return { ok: true };
}

const STANDARD_AXES: Readonly<Record<string, string>> = { t: 'timepoint', c: 'channel', z: 'z' };

/** Component value of index `i` along `axis`: plateflow's recorded value, else 1-based. */
function axisValue(position: OmeZarrPosition, axis: string, i: number): string {
  const pf = position.plateflow;
  const recorded = axis === 't' ? pf?.timepoints : axis === 'c' ? pf?.channels : axis === 'z' ? pf?.z : undefined;
  return recorded?.[i] ?? String(i + 1);
}

/** Uses plateflow attributes only when they fit the array (a hand-edited plate falls back to indices). */
function trustedPosition(p: OmeZarrPosition): OmeZarrPosition {
  const pf = p.plateflow;
  if (!pf) return p;
  const size = (axis: string) => {
    const i = p.axes.indexOf(axis);
    return i < 0 ? 1 : p.shape[i]!;
  };
  const fits = pf.timepoints.length === size('t') && pf.channels.length === size('c') && pf.z.length === size('z');
  return fits ? p : { ...p, plateflow: undefined };
}

function recordsOf(position: OmeZarrPosition): ImageRecord[] {
  const axes = leadingAxes(position);
  for (const a of axes) {
    if (!(a.name in STANDARD_AXES) && !isValidComponentName(a.name)) {
      throw new ZarrError(position.imagePath, `axis "${a.name}" cannot be used as a component name`);
    }
  }
  const total = axes.reduce((n, a) => n * a.size, 1);
  const records: ImageRecord[] = [];
  const coords = new Array<number>(axes.length).fill(0);
  // The well as the source plate spelled it (`B3` stays `B3`), when plateflow recorded the same well.
  const recorded = position.plateflow?.well;
  const well = recorded !== undefined && normalizeWellId(recorded) === position.well ? recorded : position.well;
  // Planes plateflow never wrote (gaps in a pipeline's output grid) are not images of the plate.
  const absent = new Set(position.plateflow?.absent ?? []);
  const extra = Object.entries(position.plateflow?.extra ?? {}).filter(([name]) => isValidComponentName(name) && !isStandardComponent(name));
  for (let page = 0; page < total; page++) {
    const components: Record<string, string> = {
      well,
      site: position.plateflow?.site ?? String(position.fieldIndex + 1),
      channel: '1',
      z: '1',
      timepoint: '1',
      ...Object.fromEntries(extra),
    };
    axes.forEach((a, d) => {
      components[STANDARD_AXES[a.name] ?? a.name] = axisValue(position, a.name, coords[d]!);
    });
    if (!absent.has(page)) records.push({ path: position.arrayPath, components, page });
    for (let d = axes.length - 1; d >= 0; d--) {
      if (++coords[d]! < axes[d]!.size) break;
      coords[d] = 0;
    }
  }
  return records;
}

async function index(root: string): Promise<HandlerIndex> {
  const plate = await openOmeZarrPlate(root);
  const images: ImageRecord[] = [];
  const unmatched: SkippedFile[] = [];
  for (const raw of plate.positions) {
    const position = trustedPosition(raw);
    if (!isImageDType(position.dataType)) {
      unmatched.push({ path: position.arrayPath, reason: `data type ${position.dataType} is not supported (uint8, uint16, uint32, int32, float32)` });
      continue;
    }
    images.push(...recordsOf(position));
  }
  const first = plate.positions[0];
  const acquisition = first ? acquisitionOf(trustedPosition(first)) : undefined;
  return { images, unmatched, ...(acquisition ? { acquisition } : {}) };
}

/**
 * Channel names (the `omero` labels, keyed by channel value, when they say more than the value)
 * and voxel size of the plate, from its first position: plateflow writes them the same on all.
 */
function acquisitionOf(position: OmeZarrPosition): AcquisitionMetadata | undefined {
  const cAxis = position.axes.indexOf('c');
  const channels: Record<string, string> = {};
  if (cAxis >= 0) {
    position.channelLabels.forEach((label, i) => {
      const value = axisValue(position, 'c', i);
      if (label !== value && label !== '') channels[value] = label;
    });
  }
  const named = Object.keys(channels).length > 0;
  if (!named && !position.pixelSize) return undefined;
  return { source: 'OME-Zarr multiscales and omero metadata', ...(named ? { channels } : {}), ...(position.pixelSize ? { pixelSize: position.pixelSize } : {}) };
}

export const omeZarrHandler: FormatHandler = Object.freeze({
  name: OME_ZARR_FORMAT,
  aliases: Object.freeze(['omezarr', 'ome.zarr', 'ngff', 'zarr']),
  convention: '<plate>.zarr/<row>/<col>/<field>/0 (NGFF 0.4 / 0.5 plate metadata)',
  components: Object.freeze(['well', 'site', 'channel', 'z', 'timepoint']),
  isImageFile: (relPath: string) => ARRAY_METADATA.test(relPath),
  detect,
  parse: () => undefined,
  index,
});
