/**
 * `ComponentConfig`: which component the work is split along (the parallel axis — one component or
 * a tuple such as `(well, site)`), which components vary inside one function call (`variable`), and
 * which component selects a per-group function (`groupBy`). Validated once, at construction, so a
 * contradictory configuration fails before any image is read.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { isValidComponentName, STANDARD_COMPONENTS } from './names.js';

/** What callers pass (CLI flags, pipeline file, library options). */
export interface ComponentConfigInput {
  /** The parallel axis: one task per value (or per tuple of values). */
  readonly axis: string | readonly string[];
  /** Components that vary inside one function call (a stack). @defaultValue `['site']` minus axis components */
  readonly variable?: readonly string[];
  /** Component whose value picks a per-group function; `null` for none. @defaultValue `'channel'` (null if `channel` is in the axis or `variable`) */
  readonly groupBy?: string | null;
  /** Known component names. @defaultValue the standard five: well, site, channel, z, timepoint */
  readonly components?: readonly string[];
}

/** The normalized, validated, deep-frozen configuration the compiler stores in every plan. */
export interface ComponentConfig {
  readonly axis: readonly string[];
  readonly variable: readonly string[];
  readonly groupBy: string | null;
  readonly components: readonly string[];
}

const DEFAULT_VARIABLE: readonly string[] = ['site'];
const DEFAULT_GROUP_BY = 'channel';

/**
 * Validates and normalizes a component configuration. Defaults never conflict with the axis: when
 * `variable` is omitted it is `['site']` minus any axis component, and when `groupBy` is omitted it is
 * `'channel'` unless `channel` is in the axis or the variable components (then `null`). Values given
 * explicitly are never adjusted — a conflict is an error that says what to change.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for an empty axis, an unknown or duplicated component, a
 *   group-by component that is also variable, or an axis component that is also variable / group-by.
 */
export function createComponentConfig(input: ComponentConfigInput): ComponentConfig {
  if (input === null || typeof input !== 'object') {
    throw new ConfigError(`component configuration must be an object with an "axis", got ${describe(input)}`);
  }
  const components = normalizeKnown(input.components);
  const axis = normalizeAxis(input.axis);
  const variable =
    input.variable === undefined ? DEFAULT_VARIABLE.filter((c) => !axis.includes(c)) : normalizeList(input.variable, 'variable');
  const groupBy =
    input.groupBy === undefined
      ? axis.includes(DEFAULT_GROUP_BY) || variable.includes(DEFAULT_GROUP_BY)
        ? null
        : DEFAULT_GROUP_BY
      : input.groupBy;
  validateStepComponents(variable, groupBy, axis, components);
  return Object.freeze({
    axis: Object.freeze([...axis]),
    variable: Object.freeze([...variable]),
    groupBy,
    components: Object.freeze([...components]),
  });
}

/**
 * The checks shared by the whole-run configuration and each step's overrides (the compiler calls
 * this once per step). `where`, when given, prefixes every message, e.g. `step "blur"`.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) naming the offending component and what to change.
 */
export function validateStepComponents(
  variable: readonly string[],
  groupBy: string | null | undefined,
  axis: readonly string[],
  known: readonly string[],
  where?: string,
): void {
  const fail = (message: string, context: Record<string, unknown>): never => {
    throw new ConfigError(where ? `${where}: ${message}` : message, context);
  };
  const knownList = known.join(', ');
  if (!Array.isArray(axis) || axis.length === 0) {
    fail(`axis is empty; name at least one component to split the work along (one of: ${knownList})`, { axis });
  }
  if (!Array.isArray(variable)) {
    fail(`variable components must be a list of component names, got ${describe(variable)}`, { variable });
  }
  const checkKnown = (role: string, name: unknown): void => {
    if (typeof name !== 'string') fail(`${role} component must be a component name, got ${describe(name)}`, { [role]: name });
    if (!known.includes(name as string)) {
      const hint = suggest(name as string, known);
      fail(`unknown ${role} component '${name as string}'${hint ? ` (did you mean '${hint}'?)` : ''}; known components: ${knownList}`, {
        component: name,
        known,
      });
    }
  };
  for (const c of axis) checkKnown('axis', c);
  for (const c of variable) checkKnown('variable', c);
  if (groupBy !== null && groupBy !== undefined) checkKnown('group-by', groupBy);

  const axisDup = firstDuplicate(axis);
  if (axisDup !== undefined) fail(`axis lists component '${axisDup}' more than once; list each component once`, { axis, component: axisDup });
  const varDup = firstDuplicate(variable);
  if (varDup !== undefined) {
    fail(`variable components list '${varDup}' more than once; list each component once`, { variable, component: varDup });
  }
  if (groupBy !== null && groupBy !== undefined && variable.includes(groupBy)) {
    fail(`group-by component '${groupBy}' is also a variable component; remove it from variable or group by something else`, {
      groupBy,
      variable,
    });
  }
  for (const c of axis) {
    if (variable.includes(c)) {
      fail(
        `component '${c}' is both in the axis and a variable component; each task holds a single '${c}' value, so remove '${c}' from variable or from the axis`,
        { axis, variable, component: c },
      );
    }
    if (c === groupBy) {
      fail(
        `group-by component '${c}' is also in the axis; each task holds a single '${c}' value, so group by something else or set groupBy to null`,
        { axis, groupBy },
      );
    }
  }
}

function normalizeKnown(components: readonly string[] | undefined): readonly string[] {
  if (components === undefined) return STANDARD_COMPONENTS;
  if (!Array.isArray(components) || components.length === 0) {
    throw new ConfigError(`components must be a non-empty list of component names, got ${describe(components)}`, { components });
  }
  for (const c of components) {
    if (typeof c !== 'string' || !isValidComponentName(c)) {
      throw new ConfigError(`component name ${describe(c)} is not valid; use a letter followed by letters or digits (e.g. 'plane')`, {
        component: c,
      });
    }
  }
  const dup = firstDuplicate(components);
  if (dup !== undefined) throw new ConfigError(`components list '${dup}' more than once; list each component once`, { components });
  return components;
}

function normalizeAxis(axis: string | readonly string[]): readonly string[] {
  if (typeof axis === 'string') return axis === '' ? [] : [axis];
  if (Array.isArray(axis)) return axis;
  throw new ConfigError(`axis must be a component name or a list of them (e.g. 'well' or ['well', 'site']), got ${describe(axis)}`, { axis });
}

function normalizeList(list: readonly string[], role: string): readonly string[] {
  if (!Array.isArray(list)) throw new ConfigError(`${role} must be a list of component names, got ${describe(list)}`, { [role]: list });
  return list;
}

function firstDuplicate(list: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const c of list) {
    if (seen.has(c)) return c;
    seen.add(c);
  }
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The known name closest to a misspelling (edit distance ≤ 2, case-insensitive), if any. */
function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
