/**
 * Where each task sits on a plate map, for the report (plate-map.ts) and the live dashboard alike:
 * a well grid when the axis has a well and every well is an id like `B03` (the plate's grid, else
 * the smallest standard plate that holds them), else one cell per task in task order, roughly the
 * 2:3 shape of a plate and at most 24 wide, so the cells stay readable.
 *
 * @module
 */
import { inferGrid, normalizeWellId, parseWell, rowLetters, wellId } from '../components/wells.js';
import type { PlateGrid } from '../microscopes/types.js';

export interface MapLayout {
  readonly layout: 'wells' | 'tasks';
  readonly rows: number;
  readonly columns: number;
  readonly rowLabels: readonly string[];
  readonly columnLabels: readonly string[];
  /** Row-major cell names (well ids, or task ids in the task layout); '' for a position with no images. */
  readonly cells: readonly string[];
  /** Task id → its cell index. */
  readonly cellOf: ReadonlyMap<string, number>;
}

export interface LayoutInput {
  readonly axis: readonly string[];
  readonly wells: readonly string[];
  readonly grid?: PlateGrid | null;
  readonly tasks: readonly { readonly id: string; readonly axis: Readonly<Record<string, string>> }[];
}

export function mapLayout(input: LayoutInput): MapLayout {
  const wellAxis = input.axis.includes('well');
  const taskWells = wellAxis ? input.tasks.map((t) => t.axis.well).filter((w): w is string => w !== undefined) : [];
  const all = [...input.wells, ...taskWells];
  const grid = wellAxis && all.length > 0 && all.every((w) => parseWell(w)) ? (input.grid ?? inferGrid(all)) : undefined;
  if (grid) return wellLayout(grid, input);
  const columns = Math.max(1, Math.min(24, Math.ceil(Math.sqrt(input.tasks.length * 1.5))));
  return {
    layout: 'tasks',
    rows: Math.max(1, Math.ceil(input.tasks.length / columns)),
    columns,
    rowLabels: [],
    columnLabels: [],
    cells: input.tasks.map((t) => t.id),
    cellOf: new Map(input.tasks.map((t, i) => [t.id, i])),
  };
}

function wellLayout(grid: PlateGrid, input: LayoutInput): MapLayout {
  // Normalized id (`A01`) → the spelling the plate uses (`A1` on some instruments).
  const spelling = new Map<string, string>();
  for (const w of [...input.wells, ...input.tasks.map((t) => t.axis.well!)]) {
    const key = normalizeWellId(w);
    if (key && !spelling.has(key)) spelling.set(key, w);
  }
  const cells: string[] = [];
  const index = new Map<string, number>();
  for (let row = 0; row < grid.rows; row++) {
    for (let column = 1; column <= grid.columns; column++) {
      const key = wellId(row, column);
      index.set(key, cells.length);
      cells.push(spelling.get(key) ?? '');
    }
  }
  const cellOf = new Map<string, number>();
  for (const t of input.tasks) {
    const i = index.get(normalizeWellId(t.axis.well!) ?? '');
    if (i !== undefined) cellOf.set(t.id, i);
  }
  return {
    layout: 'wells',
    rows: grid.rows,
    columns: grid.columns,
    rowLabels: Array.from({ length: grid.rows }, (_, r) => rowLetters(r)),
    columnLabels: Array.from({ length: grid.columns }, (_, c) => String(c + 1)),
    cells,
    cellOf,
  };
}
