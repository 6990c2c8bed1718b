/**
 * Natural ("human") ordering of component values: `A2 < A10`, `"2" < "10"`, `s1 < S2`.
 *
 * The order is total and deterministic, so sorting the same values always yields the same list on
 * every machine (plans, reports and task ids depend on that):
 *
 * 1. split both strings into runs of ASCII digits and runs of anything else;
 * 2. compare run by run — digit runs by numeric value (arbitrary length, no float rounding), other
 *    runs case-insensitively; a digit run sorts before a text run at the same position; a string
 *    that is a prefix of the other (in runs) sorts first;
 * 3. only if all that ties (`A1` vs `A01`, `a1` vs `A1`), fall back to a plain code-unit comparison,
 *    so `naturalCompare(a, b) === 0` exactly when `a === b`.
 *
 * @module
 */

const RUN = /\d+|\D+/g;

function runs(s: string): string[] {
  return s.match(RUN) ?? [];
}

function isDigitRun(run: string): boolean {
  const c = run.charCodeAt(0);
  return c >= 48 && c <= 57;
}

function compareDigitRuns(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareOrdinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Comparator for `Array.prototype.sort`: negative when `a` sorts first, 0 only when `a === b`. */
export function naturalCompare(a: string, b: string): number {
  if (a === b) return 0;
  const ra = runs(a);
  const rb = runs(b);
  const n = Math.min(ra.length, rb.length);
  for (let i = 0; i < n; i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    const dx = isDigitRun(x);
    const dy = isDigitRun(y);
    let c: number;
    if (dx && dy) c = compareDigitRuns(x, y);
    else if (dx !== dy) c = dx ? -1 : 1;
    else c = compareOrdinal(x.toLowerCase(), y.toLowerCase());
    if (c !== 0) return c;
  }
  if (ra.length !== rb.length) return ra.length < rb.length ? -1 : 1;
  return compareOrdinal(a, b);
}

/** Components whose values are numbers (site 1, 2, …) and sort numerically when they all parse. */
export const NUMERIC_COMPONENTS: ReadonlySet<string> = new Set([
  'site',
  'channel',
  'z',
  'timepoint',
  'plane',
  'field',
  'row',
  'column',
]);

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** True when `value` is a plain decimal number (`"3"`, `"-1.5"`, `"1e3"`). */
export function isNumericValue(value: string): boolean {
  return NUMBER.test(value);
}

/**
 * A sorted copy of `values` (duplicates are kept). Values of a numeric component (see
 * `NUMERIC_COMPONENTS`) sort by numeric value when every value is a number — so `-1 < 0.5 < 2 < 10`
 * — with `naturalCompare` breaking ties (`1` vs `01`). Anything else sorts with `naturalCompare`.
 */
export function sortValues(component: string, values: Iterable<string>): string[] {
  const out = [...values];
  if (NUMERIC_COMPONENTS.has(component) && out.every(isNumericValue)) {
    return out.sort((a, b) => Number(a) - Number(b) || naturalCompare(a, b));
  }
  return out.sort(naturalCompare);
}
