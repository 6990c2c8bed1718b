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
 * The values (in their given order) that `filter` keeps.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for malformed filter text (empty item, `A01:`, `a:b:c`,
 *   a range mixing a well id and a number) or a filter of the wrong type; the message quotes the filter.
 */
export function applyFilter(component: string, values: readonly string[], filter: KeyFilter): string[] {
  const matches = compileFilter(component, filter);
  return values.filter(matches);
}

/** Turns a filter into a predicate once (validating it), for callers that test many values. */
export function compileFilter(component: string, filter: KeyFilter): Matcher {
  if (typeof filter === 'function') {
    return (value) => filter(value) === true;
  }
  if (typeof filter === 'string') {
    const items = filter.split(',').map((s) => s.trim());
    const matchers = items.map((item) => compileItem(component, filter, item));
    return (value) => matchers.some((m) => m(value));
  }
  if (Array.isArray(filter)) {
    const matchers = filter.map((item: unknown) => {
      if (typeof item !== 'string') {
        throw new ConfigError(`${component} filter ${show(filter)}: every element must be a string, got ${show(item)}`, {
          component,
          filter: show(filter),
        });
      }
      return valueMatcher(item);
    });
    return (value) => matchers.some((m) => m(value));
  }
  throw new ConfigError(
    `${component} filter must be a value, a comma list, a range like 'A01:B12', a list of values or a function; got ${show(filter)}`,
    { component, filter: show(filter) },
  );
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
