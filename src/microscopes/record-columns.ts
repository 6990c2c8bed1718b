/**
 * The growing form of a plate's records while discovery parses names: one path string per image
 * and, per component, a column of small integers pointing into that component's interned values.
 * A million-image plate then holds a million paths (the listing's own strings) and a few typed
 * arrays, instead of a million record objects and five million value strings for the garbage
 * collector to trace. `RecordTable` (record-table.ts) sorts it into the frozen form an index keeps.
 *
 * @module
 */
import type { SampleChoice } from '../storage/tiff-samples.js';
import type { ImageRecord } from './types.js';

/** `page` / `sample` column value for "absent"; `sample` uses `LUMINANCE` for `'luminance'`. */
export const ABSENT = -1;
export const LUMINANCE = -2;

/** A growable Int32 column (doubling), so a million pushes make a handful of allocations. */
export class IntColumn {
  #data = new Int32Array(256);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const grown = new Int32Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#length++] = value;
  }

  get(row: number): number {
    return this.#data[row]!;
  }

  /** A trimmed copy, owned by the caller. */
  toArray(): Int32Array {
    return this.#data.slice(0, this.#length);
  }
}

/** One component: its distinct values (in first-seen order) and each row's value id. */
export class ComponentColumn {
  readonly values: string[] = [];
  readonly ids = new IntColumn();
  readonly #idOf = new Map<string, number>();

  constructor(readonly name: string) {}

  /** The id of `value`, added on first sight. */
  intern(value: string): number {
    let id = this.#idOf.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.#idOf.set(value, id);
    }
    return id;
  }
}

/**
 * Value ids of a fixed list of components under keys a parser chooses (a number, the raw text of a
 * name), so a parser that meets the same raw value a million times normalizes and interns it once.
 * One cache belongs to one `RecordColumns`.
 */
export class ValueCache<K> {
  readonly cols: readonly ComponentColumn[];
  /** Scratch row for `addIds`: a parser fills it and hands it over, so rows need no array of their own. */
  readonly ids: Int32Array;
  readonly #byKey: Map<K, number>[];

  constructor(columns: RecordColumns, names: readonly string[]) {
    this.cols = names.map((n) => columns.column(n));
    this.ids = new Int32Array(names.length);
    this.#byKey = names.map(() => new Map());
  }

  /** The id of component `k`'s value stored under `key`; `make(key)` gives the value on first sight. */
  id(k: number, key: K, make: (key: K) => string): number {
    const map = this.#byKey[k]!;
    let id = map.get(key);
    if (id === undefined) {
      id = this.cols[k]!.intern(make(key));
      map.set(key, id);
    }
    return id;
  }
}

export function encodeSample(sample: SampleChoice | undefined): number {
  return sample === undefined ? ABSENT : sample === 'luminance' ? LUMINANCE : sample;
}

export function decodeSample(code: number): SampleChoice | undefined {
  return code === ABSENT ? undefined : code === LUMINANCE ? 'luminance' : code;
}

/** Records being collected, unsorted; rows are numbered in the order they were added. */
export class RecordColumns {
  readonly paths: string[] = [];
  readonly pages = new IntColumn();
  readonly samples = new IntColumn();
  readonly #columns = new Map<string, ComponentColumn>();

  get length(): number {
    return this.paths.length;
  }

  /** Every component seen so far, in first-seen order. */
  get columns(): readonly ComponentColumn[] {
    return [...this.#columns.values()];
  }

  /** The column of `name`, created on first use with no value (-1) for the rows before. */
  column(name: string): ComponentColumn {
    let col = this.#columns.get(name);
    if (!col) {
      col = new ComponentColumn(name);
      for (let i = 0; i < this.length; i++) col.ids.push(ABSENT);
      this.#columns.set(name, col);
    }
    return col;
  }

  /** Adds one image given as strings (what handlers' `parse` and metadata readers produce). */
  add(path: string, components: Readonly<Record<string, string>>, page?: number, sample?: SampleChoice): void {
    const cols: ComponentColumn[] = [];
    const ids: number[] = [];
    for (const name in components) {
      const col = this.column(name);
      cols.push(col);
      ids.push(col.intern(components[name]!));
    }
    this.addIds(path, cols, ids, page ?? ABSENT, encodeSample(sample));
  }

  /**
   * Adds one image whose values are already interned in `cols` (the allocation-free path of
   * regular formats): `ids[k]` is the value id in `cols[k]`; other components get no value.
   */
  addIds(path: string, cols: readonly ComponentColumn[], ids: ArrayLike<number>, page: number = ABSENT, sample: number = ABSENT): void {
    this.paths.push(path);
    this.pages.push(page);
    this.samples.push(sample);
    const n = this.paths.length;
    for (let k = 0; k < cols.length; k++) cols[k]!.ids.push(ids[k]!);
    for (const col of this.#columns.values()) if (col.ids.length < n) col.ids.push(ABSENT);
  }

  /** The value of `name` in `row`, if any. */
  value(name: string, row: number): string | undefined {
    const col = this.#columns.get(name);
    const id = col ? col.ids.get(row) : ABSENT;
    return id === ABSENT ? undefined : col!.values[id];
  }

  /** Row `row` as strings (for the rare paths that rewrite records, e.g. colour samples). */
  record(row: number): ImageRecord {
    const components: Record<string, string> = {};
    for (const col of this.#columns.values()) {
      const id = col.ids.get(row);
      if (id !== ABSENT) components[col.name] = col.values[id]!;
    }
    const page = this.pages.get(row);
    const sample = decodeSample(this.samples.get(row));
    return { path: this.paths[row]!, components, ...(page !== ABSENT ? { page } : {}), ...(sample !== undefined ? { sample } : {}) };
  }

  static fromRecords(images: readonly ImageRecord[]): RecordColumns {
    const out = new RecordColumns();
    for (const r of images) out.add(r.path, r.components, r.page, r.sample);
    return out;
  }
}
