/**
 * Well ids (`A01`, `A1`, `AA12`) ↔ grid positions, and plate-grid inference.
 *
 * Rows are letters, counted like spreadsheet columns: `A`…`Z` are rows 0…25, `AA` is 26, `AF` is 31
 * (the last row of a 1536-well plate). Columns are 1-based numbers; leading zeros are ignored when
 * parsing (`A1` and `A01` are the same well).
 *
 * @module
 */
import type { PlateGrid } from '../microscopes/types.js';

export interface WellPosition {
  /** 0-based row index: A = 0, B = 1, …, Z = 25, AA = 26. */
  readonly row: number;
  /** 1-based column number. */
  readonly column: number;
}

const WELL = /^([A-Za-z]{1,2})(\d{1,3})$/;

/** Row letters → 0-based index (`'A'` → 0, `'AA'` → 26); case-insensitive. */
export function rowIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

/** 0-based row index → row letters (0 → `'A'`, 26 → `'AA'`). */
export function rowLetters(index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`row index must be a non-negative integer, got ${index}`);
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(65 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

/** `'B03'` / `'b3'` → `{ row: 1, column: 3 }`; undefined when the text is not a well id (or column 0). */
export function parseWell(id: string): WellPosition | undefined {
  const m = WELL.exec(id);
  if (!m) return undefined;
  const column = Number(m[2]);
  if (column < 1) return undefined;
  return { row: rowIndex(m[1]!), column };
}

/** A well id from a position: `wellId(1, 3)` → `'B03'`; columns are zero-padded to `pad` digits. */
export function wellId(row: number, column: number, pad = 2): string {
  if (!Number.isInteger(column) || column < 1) throw new RangeError(`column must be a positive integer, got ${column}`);
  return rowLetters(row) + String(column).padStart(pad, '0');
}

/** Canonical form of a well id (`'a1'` → `'A01'`); undefined when it is not a well id. */
export function normalizeWellId(id: string, pad = 2): string | undefined {
  const p = parseWell(id);
  return p ? wellId(p.row, p.column, pad) : undefined;
}

/** Standard SBS plate formats, smallest first. */
export const STANDARD_PLATES: readonly (PlateGrid & { readonly wells: number })[] = Object.freeze([
  { wells: 6, rows: 2, columns: 3 },
  { wells: 12, rows: 3, columns: 4 },
  { wells: 24, rows: 4, columns: 6 },
  { wells: 48, rows: 6, columns: 8 },
  { wells: 96, rows: 8, columns: 12 },
  { wells: 384, rows: 16, columns: 24 },
  { wells: 1536, rows: 32, columns: 48 },
].map((p) => Object.freeze(p)));

/** The grid of a standard plate with `wells` wells (96 → 8 × 12), or undefined. */
export function plateGridForSize(wells: number): PlateGrid | undefined {
  const p = STANDARD_PLATES.find((s) => s.wells === wells);
  return p ? { rows: p.rows, columns: p.columns } : undefined;
}

/** Plates considered by `inferGrid`: the screening formats (96, 384, 1536 wells). */
const SCREENING_PLATES = STANDARD_PLATES.filter((p) => p.wells >= 96);

/**
 * The plate grid the wells most likely come from: the smallest screening plate (96, 384 or 1536
 * wells) that contains every well — so row O, columns 1–24 → 384 = 16 × 24 — or the wells' bounding
 * box when none is large enough. Smaller formats (6–48 wells) are never guessed: a handful of wells
 * such as B05 is far more often part of a 96-well screen than a 24-well plate; formats with a plate
 * file (ImageXpress `.HTD`) give the exact grid instead. Undefined when no value is a well id (e.g. a
 * pattern plate with wells "ctrl1").
 */
export function inferGrid(wells: Iterable<string>): PlateGrid | undefined {
  let maxRow = -1;
  let maxColumn = 0;
  for (const w of wells) {
    const p = parseWell(w);
    if (!p) continue;
    maxRow = Math.max(maxRow, p.row);
    maxColumn = Math.max(maxColumn, p.column);
  }
  if (maxRow < 0) return undefined;
  const plate = SCREENING_PLATES.find((s) => s.rows > maxRow && s.columns >= maxColumn);
  return plate ? { rows: plate.rows, columns: plate.columns } : { rows: maxRow + 1, columns: maxColumn };
}
