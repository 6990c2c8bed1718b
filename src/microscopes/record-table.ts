/**
 * `RecordTable`: the frozen, sorted `PlateRecords` a `PlateIndex` keeps. Layout:
 *
 * ```
 *  base (shared by a table and every filtered view of it; never changes after sorting)
 *    paths[b]            one string per image (the listing's own)
 *    pages[b] samples[b] Int32, -1 = none
 *    ranks[k][b]         Int32 per component k: position of the value in values[k], -1 = none
 *    values[k]           the component's distinct values, naturally sorted
 *  view
 *    rows[i] = b         Uint32: table row i is base row b (sorted order, maybe a filtered subset)
 *    remap[k][rank]      position in this view's components[k] (null: the same as the base's)
 * ```
 *
 * Sorting is a stable counting sort per key, last key first (page, then the components in reverse
 * report order), so it costs a few linear passes over integer arrays instead of a comparator call
 * per comparison; only rows whose keys all tie (duplicates, which discovery rejects or skips)
 * are ordered by path with `naturalCompare`, as before.
 *
 * @module
 */
import { STANDARD_COMPONENTS } from '../components/names.js';
import { naturalCompare, sortValues } from '../components/natural-sort.js';
import type { SampleChoice } from '../storage/tiff-samples.js';
import { ABSENT, decodeSample, RecordColumns } from './record-columns.js';
import type { ImageRecord, PlateIndex, PlateRecords } from './types.js';

interface Base {
  readonly paths: readonly string[];
  readonly pages: Int32Array;
  readonly samples: Int32Array;
  readonly names: readonly string[];
  readonly values: readonly (readonly string[])[];
  readonly ranks: readonly Int32Array[];
  /** Records built so far, by base row (records given to `inOrder` are used as they are). */
  records: (ImageRecord | undefined)[] | undefined;
}

/** Component names in report order: the standard five, then the others naturally sorted. */
export function componentOrder(names: Iterable<string>): string[] {
  const set = new Set(names);
  const standard = STANDARD_COMPONENTS.filter((c) => set.has(c));
  const extra = [...set].filter((c) => !(STANDARD_COMPONENTS as readonly string[]).includes(c)).sort(naturalCompare);
  return [...standard, ...extra];
}

export class RecordTable implements PlateRecords {
  readonly #base: Base;
  readonly #rows: Uint32Array;
  readonly #remap: readonly (Int32Array | null)[];
  readonly components: Readonly<Record<string, readonly string[]>>;
  #images: readonly ImageRecord[] | undefined;

  private constructor(base: Base, rows: Uint32Array, remap: readonly (Int32Array | null)[], components: Readonly<Record<string, readonly string[]>>) {
    this.#base = base;
    this.#rows = rows;
    this.#remap = remap;
    this.components = components;
    // Shared through the discovery cache: nobody may swap what another caller reads (private fields stay writable for the memo).
    Object.freeze(this);
  }

  /**
   * The rows of `cols` sorted by component (in `componentOrder`, each by the natural order of its
   * values, a missing value first), then page, then path (`naturalCompare`).
   */
  static sorted(cols: RecordColumns): RecordTable {
    const base = baseOf(cols, undefined);
    return RecordTable.#full(base, sortRows(base));
  }

  /** `images` as they are, in their order (an index built by hand, not by discovery). */
  static inOrder(images: readonly ImageRecord[], cols: RecordColumns): RecordTable {
    return RecordTable.#full(baseOf(cols, [...images]), Uint32Array.from({ length: cols.length }, (_, i) => i));
  }

  static #full(base: Base, rows: Uint32Array): RecordTable {
    const components: Record<string, readonly string[]> = {};
    base.names.forEach((name, k) => (components[name] = base.values[k]!));
    return new RecordTable(base, rows, base.names.map(() => null), Object.freeze(components));
  }

  get length(): number {
    return this.#rows.length;
  }

  path(row: number): string {
    return this.#base.paths[this.#rows[row]!]!;
  }

  page(row: number): number | undefined {
    const p = this.#base.pages[this.#rows[row]!]!;
    return p === ABSENT ? undefined : p;
  }

  sample(row: number): SampleChoice | undefined {
    return decodeSample(this.#base.samples[this.#rows[row]!]!);
  }

  valueIndexOf(component: string): (row: number) => number {
    const k = this.#base.names.indexOf(component);
    if (k < 0 || !(component in this.components)) return () => ABSENT;
    const ranks = this.#base.ranks[k]!;
    const rows = this.#rows;
    const remap = this.#remap[k];
    if (!remap) return (row) => ranks[rows[row]!]!;
    return (row) => {
      const r = ranks[rows[row]!]!;
      return r === ABSENT ? ABSENT : remap[r]!;
    };
  }

  record(row: number): ImageRecord {
    const base = this.#base;
    const b = this.#rows[row]!;
    if (!base.records) {
      // Filled by push, not `new Array(n)`: V8 keeps a huge preallocated array in slow dictionary mode.
      base.records = [];
      for (let i = 0; i < base.paths.length; i++) base.records.push(undefined);
    }
    return (base.records[b] ??= buildRecord(base, b));
  }

  /** Every row as a record, in order; built on the first call. */
  images(): readonly ImageRecord[] {
    if (!this.#images) {
      const out: ImageRecord[] = [];
      for (let i = 0; i < this.length; i++) out.push(this.record(i));
      this.#images = Object.freeze(out);
    }
    return this.#images;
  }

  /**
   * Drops each row whose page and components equal the previous kept row's (neighbours, since rows
   * are sorted by them), calling `onDuplicate(kept, dropped)` with both rows first; it may throw.
   */
  withoutDuplicates(onDuplicate: (kept: number, dropped: number) => void): RecordTable {
    const keep: number[] = [];
    let dropped = false;
    for (let i = 0; i < this.length; i++) {
      const prev = keep.length > 0 ? keep[keep.length - 1]! : -1;
      if (prev >= 0 && sameKeys(this.#base, this.#rows[prev]!, this.#rows[i]!)) {
        onDuplicate(prev, i);
        dropped = true;
      } else {
        keep.push(i);
      }
    }
    return dropped ? this.#select(Uint32Array.from(keep, (i) => this.#rows[i]!)) : this;
  }

  /**
   * The rows whose value of every component in `allowed` is one of its allowed values (a row
   * without the component is dropped), with `components` narrowed to the values left.
   */
  filter(allowed: ReadonlyMap<string, ReadonlySet<string>>): RecordTable {
    const tests = [...allowed].map(([name, set]) => {
      const read = this.valueIndexOf(name);
      const ok = (this.components[name] ?? []).map((v) => set.has(v));
      return (row: number): boolean => {
        const v = read(row);
        return v !== ABSENT && ok[v]!;
      };
    });
    const keep: number[] = [];
    for (let i = 0; i < this.length; i++) if (tests.every((t) => t(i))) keep.push(this.#rows[i]!);
    return this.#select(Uint32Array.from(keep));
  }

  /** A view of the base rows `rows`, whose components list only the values those rows use. */
  #select(rows: Uint32Array): RecordTable {
    const base = this.#base;
    const components: Record<string, readonly string[]> = {};
    const remap = base.names.map((name, k) => {
      const ranks = base.ranks[k]!;
      const used = new Uint8Array(base.values[k]!.length);
      for (let i = 0; i < rows.length; i++) {
        const r = ranks[rows[i]!]!;
        if (r !== ABSENT) used[r] = 1;
      }
      // Sorted afresh: a subset may sort otherwise (`-1`, `1` numerically once `B` is gone), as a discovery of just these files would.
      const kept = Object.freeze(sortValues(name, base.values[k]!.filter((_, r) => used[r] === 1)));
      const position = new Map(kept.map((v, i) => [v, i]));
      const map = new Int32Array(used.length).fill(ABSENT);
      used.forEach((u, r) => {
        if (u === 1) map[r] = position.get(base.values[k]![r]!)!;
      });
      if (kept.length > 0) components[name] = kept;
      return map;
    });
    return new RecordTable(base, rows, remap, Object.freeze(components));
  }
}

/** The records of `plate`: its own columns when discovery made it, else columns built from `images`, in their order. */
export function recordsOf(plate: PlateIndex): PlateRecords {
  return plate.records ?? RecordTable.inOrder(plate.images, RecordColumns.fromRecords(plate.images));
}

/** Frozen columns of `cols`, value ids turned into ranks in the naturally sorted value lists. */
function baseOf(cols: RecordColumns, records: ImageRecord[] | undefined): Base {
  const byName = new Map(cols.columns.map((c) => [c.name, c]));
  const names = componentOrder(byName.keys());
  const values: (readonly string[])[] = [];
  const ranks: Int32Array[] = [];
  for (const name of names) {
    const col = byName.get(name)!;
    const sorted = Object.freeze(sortValues(name, col.values));
    const rankOf = new Map(sorted.map((v, i) => [v, i]));
    const idToRank = Int32Array.from(col.values, (v) => rankOf.get(v)!);
    const r = col.ids.toArray();
    for (let b = 0; b < r.length; b++) if (r[b] !== ABSENT) r[b] = idToRank[r[b]!]!;
    values.push(sorted);
    ranks.push(r);
  }
  return { paths: cols.paths, pages: cols.pages.toArray(), samples: cols.samples.toArray(), names, values, ranks, records };
}

function buildRecord(base: Base, b: number): ImageRecord {
  const components: Record<string, string> = {};
  for (let k = 0; k < base.names.length; k++) {
    const r = base.ranks[k]![b]!;
    if (r !== ABSENT) components[base.names[k]!] = base.values[k]![r]!;
  }
  const record: { -readonly [K in keyof ImageRecord]: ImageRecord[K] } = { path: base.paths[b]!, components: Object.freeze(components) };
  const page = base.pages[b]!;
  const sample = decodeSample(base.samples[b]!);
  if (page !== ABSENT) record.page = page;
  if (sample !== undefined) record.sample = sample;
  return Object.freeze(record);
}

function sameKeys(base: Base, a: number, b: number): boolean {
  if (base.pages[a] !== base.pages[b]) return false;
  for (const r of base.ranks) if (r[a] !== r[b]) return false;
  return true;
}

/** Base rows in sorted order (see the module comment). */
function sortRows(base: Base): Uint32Array {
  const n = base.paths.length;
  let order: Uint32Array = Uint32Array.from({ length: n }, (_, i) => i);
  const pages = pageRanks(base.pages);
  if (pages) order = countingSort(order, pages.ranks, pages.count);
  for (let k = base.ranks.length - 1; k >= 0; k--) {
    // A component with one value and no row without it orders nothing.
    if (base.values[k]!.length > 1 || base.ranks[k]!.includes(ABSENT)) order = countingSort(order, base.ranks[k]!, base.values[k]!.length);
  }
  // Rows whose keys all tie: by path, in natural order.
  let start = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && sameKeys(base, order[start]!, order[i]!)) continue;
    if (i - start > 1) order.subarray(start, i).sort((a, b) => naturalCompare(base.paths[a]!, base.paths[b]!));
    start = i;
  }
  return order;
}

/** Pages as ranks (-1 for none), or undefined when no row has a page. */
function pageRanks(pages: Int32Array): { ranks: Int32Array; count: number } | undefined {
  const distinct = [...new Set(pages)].filter((p) => p !== ABSENT).sort((a, b) => a - b);
  if (distinct.length === 0) return undefined;
  const rankOf = new Map(distinct.map((p, i) => [p, i]));
  return { ranks: pages.map((p) => (p === ABSENT ? ABSENT : rankOf.get(p)!)), count: distinct.length };
}

/** `order` stably sorted by `keys[row]` (values -1 … count-1; -1, "none", first). */
function countingSort(order: Uint32Array, keys: Int32Array, count: number): Uint32Array {
  const start = new Uint32Array(count + 2);
  for (let i = 0; i < order.length; i++) start[keys[order[i]!]! + 2]!++;
  for (let b = 1; b < start.length; b++) start[b]! += start[b - 1]!;
  const out = new Uint32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const row = order[i]!;
    out[start[keys[row]! + 1]!++] = row;
  }
  return out;
}
