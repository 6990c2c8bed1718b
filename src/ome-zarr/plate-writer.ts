/**
 * Writing OME-Zarr plates.
 *
 * Two ways to lay out a plate, for the two ways work arrives:
 *
 * - `OmeZarrPlateWriter.create(root, positions)` — the coordinator knows every position up front
 *   (convert, pipeline output): it writes all plate, well and image metadata once, before any
 *   pixel, and parallel writers then only add chunks. Nothing they do can touch the attributes.
 * - `addPosition(root, spec)` — positions arrive one by one from independent writers (threads,
 *   processes, hosts on a shared filesystem): the read-modify-write of the plate's well list and
 *   the well's field list happens under `withFileLock` on `<root>/.plateflow.lock`, and each
 *   document is replaced by rename, so concurrent writers never lose each other's entries.
 *
 * @module
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { naturalCompare } from '../components/natural-sort.js';
import { ConfigError, ZarrError } from '../errors.js';
import type { PixelArray } from '../image.js';
import { withFileLock } from '../storage/lock.js';
import { ZarrArray } from '../storage/zarr-array.js';
import type { ZarrCompression } from '../storage/zarr-format.js';
import { readGroup, writeGroup } from '../storage/zarr-io.js';
import { mapLimit } from './concurrency.js';
import { checkField, defaultChunkYX, positionPath, sortColumns, sortRows, wellGroup, type PositionSpec } from './layout.js';
import { imageAttributes, parsePlate, parseWell, plateAttributes, wellAttributes, zarrVersionOf, type NgffVersion } from './ngff.js';
import { levelShape, writePlaneLevels } from './pyramid.js';

export interface PlateWriteOptions {
  /** @defaultValue '0.4' (zarr v2), the version most tools read today */
  readonly ngff?: NgffVersion;
  /** @defaultValue 'gzip' */
  readonly compression?: ZarrCompression;
  /** @defaultValue 1 */
  readonly level?: number;
  /** Plate name in the metadata. @defaultValue the folder name without `.zarr` */
  readonly name?: string;
  /** Replace an existing folder at `root` (create only). @defaultValue false */
  readonly overwrite?: boolean;
  /** fsync every chunk and document (survives power loss, not just a killed process). @defaultValue false */
  readonly durable?: boolean;
}

export interface AddPositionOptions extends PlateWriteOptions {
  /**
   * How `addPosition` lists rows, columns, wells and a well's fields. `'append'` adds new entries
   * at the end and never reorders, which is the only safe choice for plates other tools wrote
   * (their well ids may come from list indices). `'sorted'` keeps rows A, B, …, columns 1, 2, …,
   * wells by row then column and fields in natural order, so the documents end up the same bytes
   * whatever order parallel writers arrive in; it needs letter rows and number columns.
   * @defaultValue 'append'
   */
  readonly order?: 'append' | 'sorted';
  /**
   * When the position exists already: `false` refuses; `true` rewrites its image and array
   * metadata and keeps its chunks (until the caller overwrites them), so a writer can redo a
   * position — even while an identical writer still runs — without a moment where it is missing.
   * @defaultValue false
   */
  readonly replace?: boolean;
}

/** Lock file serialising `addPosition` metadata updates; hidden, so readers and discovery skip it. */
export const PLATE_LOCK = '.plateflow.lock';

/** Coordinates of a plane in a TCZYX position array. */
export interface PlaneIndex {
  readonly t: number;
  readonly c: number;
  readonly z: number;
}

export class OmeZarrPlateWriter {
  readonly root: string;
  readonly ngff: NgffVersion;
  readonly #arrays = new Map<string, Promise<ZarrArray>>();
  readonly #durable: boolean;

  private constructor(root: string, ngff: NgffVersion, durable: boolean) {
    this.root = root;
    this.ngff = ngff;
    this.#durable = durable;
  }

  /**
   * Lays out a new plate with every position's metadata and empty arrays.
   *
   * @throws ConfigError (`E_CONFIG_INVALID`) when `root` exists and is not empty (without
   *   `overwrite`), positions repeat, or a well id / field name is invalid.
   * @throws StorageError (`E_STORAGE_IO`) on write failures.
   */
  static async create(root: string, positions: readonly PositionSpec[], opts: PlateWriteOptions = {}): Promise<OmeZarrPlateWriter> {
    const abs = path.resolve(root);
    const ngff = opts.ngff ?? '0.4';
    if (positions.length === 0) throw new ConfigError('a plate needs at least one position');
    await prepareRoot(abs, opts.overwrite === true);
    const byWell = new Map<string, string[]>();
    for (const p of positions) {
      const key = positionPath(p.well, checkField(p.field));
      const g = wellGroup(p.well);
      const wellKey = `${g.row}/${g.column}`;
      const fields = byWell.get(wellKey) ?? [];
      if (fields.includes(p.field)) throw new ConfigError(`position ${key} is listed twice`, { well: p.well, field: p.field });
      fields.push(p.field);
      byWell.set(wellKey, fields);
    }
    const wells = [...byWell.keys()].map((k) => {
      const [row, column] = k.split('/') as [string, string];
      return { row, column };
    });
    const rows = sortRows(wells.map((w) => w.row));
    const columns = sortColumns(wells.map((w) => w.column));
    wells.sort((a, b) => rows.indexOf(a.row) - rows.indexOf(b.row) || columns.indexOf(a.column) - columns.indexOf(b.column));
    const fieldCount = Math.max(...[...byWell.values()].map((f) => f.length));
    const version = zarrVersionOf(ngff);
    const durable = { durable: opts.durable === true };
    await writeGroup(abs, version, plateAttributes(ngff, { name: opts.name ?? plateName(abs), rows, columns, wells, fieldCount }), durable);
    await mapLimit([...byWell], 16, ([wellKey, fields]) => writeGroup(path.join(abs, wellKey), version, wellAttributes(ngff, fields), durable));
    const writer = new OmeZarrPlateWriter(abs, ngff, opts.durable === true);
    await mapLimit(positions, 16, async (p) => {
      const arr = createPositionArrays(abs, p, ngff, opts);
      writer.#arrays.set(positionPath(p.well, p.field), arr);
      await arr;
    });
    return writer;
  }

  /** The array of a position this writer laid out (or that exists on disk). */
  array(well: string, field: string): Promise<ZarrArray> {
    const key = positionPath(well, field);
    let arr = this.#arrays.get(key);
    if (!arr) {
      arr = ZarrArray.open(path.join(this.root, key, '0'), { durable: this.#durable });
      this.#arrays.set(key, arr);
      arr.catch(() => this.#arrays.delete(key));
    }
    return arr;
  }

  /** Writes a plane of a position, and its reduced copies into the position's other multiscale levels. */
  async writePlane(well: string, field: string, plane: PlaneIndex, data: PixelArray): Promise<void> {
    const arr = await this.array(well, field);
    await writePlaneLevels(arr, [plane.t, plane.c, plane.z], data);
  }
}

function plateName(root: string): string {
  return path.basename(root).replace(/\.(ome\.)?zarr$/i, '');
}

async function prepareRoot(root: string, overwrite: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(`cannot use ${root} as the output plate: ${(err as Error).message}`, { path: root });
  }
  if (entries.length === 0) return;
  if (!overwrite) throw new ConfigError(`${root} already exists and is not empty; choose another folder or overwrite it`, { path: root });
  await rm(root, { recursive: true, force: true });
}

/** Image group attributes + the level arrays of one position; returns level 0. */
async function createPositionArrays(root: string, p: PositionSpec, ngff: NgffVersion, opts: PlateWriteOptions): Promise<ZarrArray> {
  const dir = path.join(root, positionPath(p.well, checkField(p.field)));
  const { t, c, z, y, x } = p.shape;
  const labels = p.channelLabels ?? Array.from({ length: c }, (_, i) => String(i + 1));
  if (labels.length !== c) throw new ConfigError(`position ${p.well}/${p.field} has ${c} channels but ${labels.length} channel labels`);
  const levels = p.levels ?? 1;
  if (!Number.isInteger(levels) || levels < 1) throw new ConfigError(`position ${p.well}/${p.field}: levels must be a positive integer, got ${levels}`);
  const version = zarrVersionOf(ngff);
  const durable = { durable: opts.durable === true };
  await writeGroup(
    dir,
    version,
    imageAttributes(ngff, {
      name: `${p.well}_${p.field}`,
      dtype: p.dtype,
      channelLabels: labels,
      levels,
      ...(p.pixelSize ? { pixelSize: p.pixelSize } : {}),
      ...(p.origin ? { origin: p.origin } : {}),
      ...(p.plateflow ? { plateflow: p.plateflow } : {}),
    }),
    durable,
  );
  const [cy, cx] = p.chunkYX ?? defaultChunkYX(y, x);
  const arrays = await Promise.all(
    Array.from({ length: levels }, (_, level) => {
      const [ly, lx] = levelShape(y, x, level);
      return ZarrArray.create(
        path.join(dir, String(level)),
        {
          shape: [t, c, z, ly, lx],
          chunks: [1, 1, 1, Math.min(cy, ly), Math.min(cx, lx)],
          dtype: p.dtype,
          compression: opts.compression ?? 'gzip',
          level: opts.level ?? 1,
          dimensionNames: ['t', 'c', 'z', 'y', 'x'],
        },
        { version, ...durable },
      );
    }),
  );
  return arrays[0]!;
}

/**
 * Adds one position to a plate, creating the plate and well groups when they do not exist yet.
 * Safe to call from many threads, processes or hosts at once: the plate and well documents are
 * updated under a file lock (see the module comment). Returns the position's (empty) array.
 *
 * @throws ZarrError (`E_ZARR_INVALID`) when `root` holds a plate of another NGFF version, the
 *   position exists already (without `replace`), or `order: 'sorted'` meets non-letter rows or
 *   non-number columns.
 * @throws StorageError (`E_STORAGE_IO`) when the lock times out or a write fails.
 */
export async function addPosition(root: string, spec: PositionSpec, opts: AddPositionOptions = {}): Promise<ZarrArray> {
  const abs = path.resolve(root);
  const ngff = opts.ngff ?? '0.4';
  const version = zarrVersionOf(ngff);
  const { row, column } = wellGroup(spec.well);
  const field = checkField(spec.field);
  const durable = { durable: opts.durable === true };
  const posDir = path.join(abs, row, column, field);
  const rootGroup = await readGroup(abs);
  if (rootGroup && rootGroup.version !== version) {
    throw new ZarrError(abs, `the plate is stored as zarr v${rootGroup.version}; cannot add an NGFF ${ngff} (zarr v${version}) position`);
  }
  if (opts.replace !== true && (await readGroup(posDir))) throw new ZarrError(abs, `position ${row}/${column}/${field} exists already`);
  // The position's own group and array first: once the well lists it, it must be complete.
  const array = await createPositionArrays(abs, spec, ngff, opts);
  await withFileLock(path.join(abs, PLATE_LOCK), async () => {
    const plateGroup = await readGroup(abs);
    if (plateGroup && plateGroup.version !== version) {
      throw new ZarrError(abs, `the plate is stored as zarr v${plateGroup.version}; cannot add an NGFF ${ngff} (zarr v${version}) position`);
    }
    const existing = plateGroup ? parsePlate(plateGroup.attributes, abs).plate : undefined;
    let rows = existing ? existing.rows.map((r) => r.name) : [];
    let columns = existing ? existing.columns.map((c) => c.name) : [];
    // Append, never reorder: rowIndex/columnIndex of the wells already listed must stay valid.
    if (!rows.includes(row)) rows.push(row);
    if (!columns.includes(column)) columns.push(column);
    const wells = existing ? existing.wells.map((w) => ({ row: rows[w.rowIndex]!, column: columns[w.columnIndex]! })) : [];
    if (!wells.some((w) => w.row === row && w.column === column)) wells.push({ row, column });

    const wellDir = path.join(abs, row, column);
    const wellGroupInfo = await readGroup(wellDir);
    const fields = wellGroupInfo ? parseWell(wellGroupInfo.attributes, wellDir).images.map((i) => i.path) : [];
    if (!fields.includes(field)) fields.push(field);
    if (opts.order === 'sorted') {
      // Names alone say which well is which here, so the lists may be re-sorted; wells are written from names, not old indices.
      if (!rows.every((r) => /^[A-Za-z]+$/.test(r)) || !columns.every((c) => /^\d+$/.test(c))) {
        throw new ZarrError(abs, `cannot keep the plate sorted: rows must be letters and columns numbers, found rows ${rows.join(', ')} and columns ${columns.join(', ')}`);
      }
      rows = sortRows(rows);
      columns = sortColumns(columns);
      wells.sort((a, b) => rows.indexOf(a.row) - rows.indexOf(b.row) || columns.indexOf(a.column) - columns.indexOf(b.column));
      fields.sort(naturalCompare);
    }
    await writeGroup(wellDir, version, wellAttributes(ngff, fields), durable);
    const fieldCount = Math.max(fields.length, existing?.field_count ?? 0);
    await writeGroup(abs, version, plateAttributes(ngff, { name: existing?.name ?? opts.name ?? plateName(abs), rows, columns, wells, fieldCount }), durable);
  });
  return array;
}
