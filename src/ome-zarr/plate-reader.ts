/**
 * Reading an OME-Zarr plate's structure: plate → wells → fields → level-0 arrays, from the
 * metadata only (no pixels). Works for plates written by plateflow, ome-zarr-py, iohub or any tool
 * that follows NGFF 0.4 or 0.5 (older 0.1–0.3 plates are read like 0.4).
 *
 * @module
 */
import path from 'node:path';
import { ZarrError } from '../errors.js';
import { DTYPES, type DType } from '../image.js';
import { assertSafeRelativePath } from '../storage/safe-path.js';
import type { ZarrVersion } from '../storage/zarr-format.js';
import { readArrayHeader, readGroup } from '../storage/zarr-io.js';
import { mapLimit } from './concurrency.js';
import { wellIdOf } from './layout.js';
import { parseImage, parsePlate, parseWell, type MultiscaleMetadata, type PlateflowImageAttrs } from './ngff.js';
import type { PixelSize } from '../microscopes/types.js';

export interface OmeZarrPosition {
  /** Canonical well id from the row and column names (`B` + `3` → `B03`), e.g. `B03`. */
  readonly well: string;
  /** 0-based order of this field in the well's `images` list. */
  readonly fieldIndex: number;
  /** Field group name, e.g. `'0'`. */
  readonly field: string;
  /** Image group, relative to the plate root, e.g. `B/3/0`. */
  readonly imagePath: string;
  /** Full-resolution array (first multiscales dataset), relative to the root, e.g. `B/3/0/0`. */
  readonly arrayPath: string;
  /** Axis names of the array, e.g. `['t', 'c', 'z', 'y', 'x']`. */
  readonly axes: readonly string[];
  readonly shape: readonly number[];
  /** The array's data type; images need one of plateflow's dtypes. */
  readonly dataType: string;
  readonly channelLabels: readonly string[];
  /** Voxel size from the first dataset's scale, when the spatial axes carry length units. */
  readonly pixelSize: PixelSize | undefined;
  /** plateflow's record of the source component values, when plateflow wrote the plate. */
  readonly plateflow: PlateflowImageAttrs | undefined;
}

export interface OmeZarrPlate {
  readonly root: string;
  /** NGFF version found in the metadata, e.g. `'0.4'`, `'0.5'`. */
  readonly ngffVersion: string;
  readonly zarrVersion: ZarrVersion;
  readonly name: string | undefined;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly positions: readonly OmeZarrPosition[];
}

/** How many groups are read at once. */
const METADATA_CONCURRENCY = 16;

/**
 * Reads the plate at `root`.
 *
 * @throws ZarrError (`E_ZARR_INVALID`) when `root` is not a Zarr group with valid `plate`
 *   metadata, a listed well or field is missing or invalid, or an image's axes do not match its
 *   array.
 */
export async function openOmeZarrPlate(root: string): Promise<OmeZarrPlate> {
  const abs = path.resolve(root);
  const group = await readGroup(abs);
  if (!group) throw new ZarrError(abs, 'not a Zarr group (no zarr.json or .zgroup)');
  const { version, plate } = parsePlate(group.attributes, abs);
  const wells = await mapLimit(plate.wells, METADATA_CONCURRENCY, async (w) => {
    assertSafeRelativePath(w.path);
    const dir = path.join(abs, w.path);
    const wg = await readGroup(dir);
    if (!wg) throw new ZarrError(dir, `well ${w.path} is listed in the plate but has no group`);
    return { well: wellIdOf(plate.rows[w.rowIndex]!.name, plate.columns[w.columnIndex]!.name, w.rowIndex, w.columnIndex), path: w.path, images: parseWell(wg.attributes, dir).images };
  });
  const jobs = wells.flatMap((w) => w.images.map((img, fieldIndex) => ({ w, field: img.path, fieldIndex })));
  const positions = await mapLimit(jobs, METADATA_CONCURRENCY, async ({ w, field, fieldIndex }): Promise<OmeZarrPosition> => {
    const imagePath = `${w.path}/${field}`;
    const dir = path.join(abs, imagePath);
    const ig = await readGroup(dir);
    if (!ig) throw new ZarrError(dir, `field ${imagePath} is listed in well ${w.path} but has no group`);
    const image = parseImage(ig.attributes, dir);
    const arrayPath = `${imagePath}/${image.multiscale.datasets[0]!.path}`;
    const header = await readArrayHeader(path.join(abs, arrayPath));
    if (!header) throw new ZarrError(path.join(abs, arrayPath), 'the first multiscales dataset has no array');
    const axes = image.multiscale.axes.map((a) => a.name.toLowerCase());
    if (axes.length !== header.shape.length) {
      throw new ZarrError(dir, `multiscales lists ${axes.length} axes (${axes.join(', ')}) but the array has ${header.shape.length} dimensions`);
    }
    const cAxis = axes.indexOf('c');
    const channels = cAxis < 0 ? 1 : header.shape[cAxis]!;
    const labels = Array.from({ length: channels }, (_, i) => image.omero?.channels[i]?.label ?? String(i + 1));
    return {
      well: w.well,
      fieldIndex,
      field,
      imagePath,
      arrayPath,
      axes,
      shape: header.shape,
      dataType: header.dataType,
      channelLabels: labels,
      pixelSize: pixelSizeOf(image.multiscale),
      plateflow: image.plateflow,
    };
  });
  return {
    root: abs,
    ngffVersion: version,
    zarrVersion: group.version,
    name: plate.name,
    rows: plate.rows.map((r) => r.name),
    columns: plate.columns.map((c) => c.name),
    positions,
  };
}

export function isImageDType(dataType: string): dataType is DType {
  return (DTYPES as readonly string[]).includes(dataType);
}

/** Leading (non-YX) axes of a position, with their sizes, in array order. */
export function leadingAxes(position: OmeZarrPosition): { name: string; size: number }[] {
  return position.axes.slice(0, -2).map((name, i) => ({ name, size: position.shape[i]! }));
}

/** Micrometres per unit, for the NGFF (UDUNITS-2) length units a microscope image uses. */
const MICROMETRES: Readonly<Record<string, number>> = { micrometer: 1, nanometer: 1e-3, millimeter: 1e3, angstrom: 1e-4, meter: 1e6 };

function pixelSizeOf(ms: MultiscaleMetadata): PixelSize | undefined {
  const scale = ms.datasets[0]!.coordinateTransformations.find((t) => t.type === 'scale')?.scale;
  const size = (name: string): number | undefined => {
    const i = ms.axes.findIndex((a) => a.name.toLowerCase() === name);
    const factor = i < 0 ? undefined : MICROMETRES[ms.axes[i]!.unit ?? ''];
    const v = factor === undefined || scale === undefined ? undefined : scale[i];
    return v === undefined || !(v > 0) ? undefined : Number((v * factor!).toPrecision(12));
  };
  const x = size('x');
  const y = size('y');
  const z = size('z');
  return x !== undefined && y !== undefined ? { x, y, ...(z !== undefined ? { z } : {}), unit: 'micrometer' } : undefined;
}
