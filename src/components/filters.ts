/**
 * Key filters: which values of a component to keep (e.g. `--wells A01:B12`).
 *
 * A filter is one of:
 * - a list of values (`['A01', 'B03']`) — each element is one value, never a range;
 * - a string: one value (`'B03'`), a comma list (`'A01,A03,B05'`), a range (`'A01:B12'`), or a comma
 *   list mixing values and ranges (`'A01:A06,H12'`). Spaces around items are ignored;
 * - a predicate `(value) => boolean`.
 *
 * Matching is tolerant of padding: well ids compare by position (`A1` matches `A01`), numbers by
 * value (`1` matches `01`); anything else must match exactly.
 *
 * Ranges include both ends and may be written in either order:
 * - two well ids (`A01:B12`): the plate **rectangle** rows A–B × columns 1–12 (so `A01:B12` holds
 *   24 wells, not "everything between A01 and B12 in reading order");
 * - two numbers (`2:5`, `0.5:1.5`): the numeric interval;
 * - anything else: the interval in natural order (`naturalCompare`).
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { isNumericValue, naturalCompare } from './natural-sort.js';
import { parseWell, type WellPosition } from './wells.js';

export type KeyFilter = readonly string[] | string | ((value: string) => boolean);

type Matcher = (value: string) => boolean;

/**
 * The values (in their given order) that `filter` keeps. Every item of a list or comma list must
 * keep at least one value: `--only A01,Z99` on a plate without Z99 is a mistake to report, not a
 * run of A01 alone (nor, for `--only Z99`, a run of nothing that looks like success).
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for malformed filter text (empty filter or item, `A01:`,
 *   `a:b:c`, a range mixing a well id and a number), a filter of the wrong type, or an item that
 *   matches none of `values` (the message lists the values there are); it quotes the filter.
 */
export function applyFilter(component: string, values: readonly string[], filter: KeyFilter): string[] {
  const items = compileItems(component, filter);
  // A predicate names no values, so only what was written out is checked.
  const unmatched = typeof filter === 'function' ? [] : items.filter((item) => !values.some(item.match)).map((item) => item.text);
  if (unmatched.length > 0) {
    const what = unmatched.length === 1 ? `'${unmatched[0]}' matches no` : `${unmatched.map((u) => `'${u}'`).join(', ')} match no`;
    throw new ConfigError(`${component} filter ${show(filter)}: ${what} ${component} of this plate; ${listValues(component, values)}`, { component, filter: show(filter), unmatched });
  }
  return values.filter((value) => items.some((item) => item.match(value)));
}

/** Turns a filter into a predicate once (validating its form, not its values), for callers that test many values. */
export function compileFilter(component: string, filter: KeyFilter): Matcher {
  const items = compileItems(component, filter);
  return (value) => items.some((item) => item.match(value));
}

interface FilterItem {
  /** The item as written, for messages. */
  readonly text: string;
  readonly match: Matcher;
}

function compileItems(component: string, filter: KeyFilter): FilterItem[] {
  if (typeof filter === 'function') {
    return [{ text: 'a function', match: (value) => filter(value) === true }];
  }
  if (typeof filter === 'string') {
    return filter.split(',').map((s) => s.trim()).map((item) => ({ text: item, match: compileItem(component, filter, item) }));
  }
  if (Array.isArray(filter)) {
    if (filter.length === 0) throw new ConfigError(`${component} filter is an empty list: it would keep nothing`, { component, filter: '[]' });
    return filter.map((item: unknown) => {
      if (typeof item !== 'string') {
        throw new ConfigError(`${component} filter ${show(filter)}: every element must be a string, got ${show(item)}`, {
          component,
          filter: show(filter),
        });
      }
      return { text: item, match: valueMatcher(item) };
    });
  }
  throw new ConfigError(
    `${component} filter must be a value, a comma list, a range like 'A01:B12', a list of values or a function; got ${show(filter)}`,
    { component, filter: show(filter) },
  );
}

const MAX_LISTED = 100;

function listValues(component: string, values: readonly string[]): string {
  if (values.length === 0) return `it has no ${component} values`;
  const shown = values.slice(0, MAX_LISTED).join(', ');
  return `its ${component} values are ${shown}${values.length > MAX_LISTED ? `, … (${values.length} in all)` : ''}`;
}

function compileItem(component: string, filter: string, item: string): Matcher {
  const bad = (why: string): never => {
    throw new ConfigError(`bad ${component} filter '${filter}': ${why}`, { component, filter });
  };
  if (item === '') bad(filter.trim() === '' ? 'the filter is empty' : 'empty item in the comma list');
  if (!item.includes(':')) return valueMatcher(item);

  const parts = item.split(':').map((s) => s.trim());
  if (parts.length !== 2) bad(`range '${item}' has more than one ':'; write a range as FIRST:LAST, e.g. 'A01:B12'`);
  const [a, b] = parts as [string, string];
  if (a === '' || b === '') bad(`range '${item}' is missing its ${a === '' ? 'first' : 'last'} value; write a range as FIRST:LAST, e.g. 'A01:B12'`);

  const wa = parseWell(a);
  const wb = parseWell(b);
  if (wa && wb) return rectangle(wa, wb);
  const na = isNumericValue(a);
  const nb = isNumericValue(b);
  if (na && nb) {
    const lo = Math.min(Number(a), Number(b));
    const hi = Math.max(Number(a), Number(b));
    return (value) => isNumericValue(value) && Number(value) >= lo && Number(value) <= hi;
  }
  if ((wa && nb) || (na && wb)) bad(`range '${item}' mixes a well id and a number; use two well ids (A01:B12) or two numbers (1:4)`);
  const [lo, hi] = naturalCompare(a, b) <= 0 ? [a, b] : [b, a];
  return (value) => naturalCompare(lo, value) <= 0 && naturalCompare(value, hi) <= 0;
}

function rectangle(a: WellPosition, b: WellPosition): Matcher {
  const r0 = Math.min(a.row, b.row);
  const r1 = Math.max(a.row, b.row);
  const c0 = Math.min(a.column, b.column);
  const c1 = Math.max(a.column, b.column);
  return (value) => {
    const p = parseWell(value);
    return p !== undefined && p.row >= r0 && p.row <= r1 && p.column >= c0 && p.column <= c1;
  };
}

function valueMatcher(wanted: string): Matcher {
  const well = parseWell(wanted);
  if (well) {
    return (value) => {
      const p = parseWell(value);
      return p !== undefined && p.row === well.row && p.column === well.column;
    };
  }
  if (isNumericValue(wanted)) {
    const n = Number(wanted);
    return (value) => value === wanted || (isNumericValue(value) && Number(value) === n);
  }
  return (value) => value === wanted;
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
