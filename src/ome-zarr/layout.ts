/**
 * Where things live in an OME-Zarr plate, and how well ids map to row/column groups.
 *
 * Row groups are named by letters (`A`, `B`, … `AA`), column groups by unpadded numbers (`1`, `12`),
 * so well `B03` is the group `B/3`, and its fields of view are `B/3/0`, `B/3/1`, … with the
 * full-resolution TCZYX array at `B/3/0/0`.
 *
 * @module
 */
import { naturalCompare } from '../components/natural-sort.js';
import { normalizeWellId, parseWell, rowIndex, rowLetters, wellId } from '../components/wells.js';
import { ConfigError } from '../errors.js';
import type { DType } from '../image.js';
import type { PixelSize, StagePosition } from '../microscopes/types.js';
import type { PlateflowImageAttrs } from './ngff.js';

/** Sizes of the five axes of a position's array. */
export interface Tczyx {
  readonly t: number;
  readonly c: number;
  readonly z: number;
  readonly y: number;
  readonly x: number;
}

export interface PositionSpec {
  /** Well id such as `A01` or `B3`. */
  readonly well: string;
  /** Field-of-view group name (`^[A-Za-z0-9]+$`), e.g. `'0'`. */
  readonly field: string;
  readonly shape: Tczyx;
  readonly dtype: DType;
  /** `omero` channel labels; default `'1'`, `'2'`, …. */
  readonly channelLabels?: readonly string[];
  /** Y×X chunk size. @defaultValue the whole plane, or 2048×2048 tiles above 4096 pixels a side */
  readonly chunkYX?: readonly [number, number];
  /** Physical voxel size, for the multiscales' units and scales. */
  readonly pixelSize?: PixelSize;
  /** Multiscale levels (2× means in y and x); see `pyramid.ts`. @defaultValue 1 */
  readonly levels?: number;
  /** Stage position of the field (µm), written as a translation. */
  readonly origin?: StagePosition;
  readonly plateflow?: PlateflowImageAttrs;
}

export interface WellGroup {
  readonly row: string;
  readonly column: string;
}

/**
 * The row and column group names of a well id.
 * @throws ConfigError (`E_CONFIG_INVALID`) when `well` is not a well id.
 */
export function wellGroup(well: string): WellGroup {
  const p = parseWell(well);
  if (!p) throw new ConfigError(`"${well}" is not a well id (expected e.g. A01 or B3)`, { well });
  return { row: rowLetters(p.row), column: String(p.column) };
}

/** Relative path of a position (image) group. */
export function positionPath(well: string, field: string): string {
  const g = wellGroup(well);
  return `${g.row}/${g.column}/${field}`;
}

/**
 * The well id of a plate-metadata well: from the row and column *names* when they read as a well
 * (`B` + `3` → `B03`); otherwise (e.g. rows named `1`, `2`) from the indices into the plate's
 * row and column lists, counted from A and 1.
 */
export function wellIdOf(rowName: string, columnName: string, rowIdx: number, columnIdx: number): string {
  return normalizeWellId(`${rowName}${columnName}`) ?? wellId(rowIdx, columnIdx + 1);
}

/** Rows sorted A, B, …, Z, AA; columns numerically. */
export function sortRows(rows: Iterable<string>): string[] {
  return [...new Set(rows)].sort((a, b) => rowIndex(a) - rowIndex(b));
}

export function sortColumns(columns: Iterable<string>): string[] {
  return [...new Set(columns)].sort(naturalCompare);
}

const FIELD = /^[A-Za-z0-9]+$/;

/** @throws ConfigError for a field name the NGFF schema does not allow. */
export function checkField(field: string): string {
  if (!FIELD.test(field)) throw new ConfigError(`field name "${field}" must match ^[A-Za-z0-9]+$ (NGFF well schema)`, { field });
  return field;
}

export function defaultChunkYX(y: number, x: number): [number, number] {
  return [y > 4096 ? 2048 : y, x > 4096 ? 2048 : x];
}
