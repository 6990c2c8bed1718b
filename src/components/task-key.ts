/**
 * Task ids: the value of the parallel axis as one string. A single-component axis uses the value
 * itself (`'B03'`), so ids read naturally in logs and reports; a tuple axis names each component
 * (`'well=B03,site=1'`). In the tuple form `%`, `,` and `=` inside values are percent-escaped so
 * `parseTaskKey` can always invert `taskKey`.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

function escapeValue(value: string): string {
  return value.replace(/[%,=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function unescapeValue(value: string): string {
  return value.replace(/%(25|2C|3D)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The task id for `values` along `axis`.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) when the axis is empty or a value for an axis component is missing.
 */
export function taskKey(axis: readonly string[], values: Readonly<Record<string, string>>): string {
  if (axis.length === 0) throw new ConfigError('cannot build a task key for an empty axis');
  for (const c of axis) {
    if (typeof values[c] !== 'string') {
      throw new ConfigError(`task key needs a value for axis component '${c}'; got ${JSON.stringify(values)}`, { component: c });
    }
  }
  if (axis.length === 1) return values[axis[0]!]!;
  return axis.map((c) => `${c}=${escapeValue(values[c]!)}`).join(',');
}

/**
 * Inverse of `taskKey` for the same `axis`.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) when `key` was not made by `taskKey` for this axis.
 */
export function parseTaskKey(axis: readonly string[], key: string): Record<string, string> {
  if (axis.length === 0) throw new ConfigError('cannot parse a task key for an empty axis');
  if (axis.length === 1) return { [axis[0]!]: key };
  const parts = key.split(',');
  const expected = axis.map((c) => `${c}=…`).join(',');
  if (parts.length !== axis.length) {
    throw new ConfigError(`task key '${key}' does not fit axis (${axis.join(', ')}); expected ${expected}`, { task: key });
  }
  const out: Record<string, string> = {};
  parts.forEach((part, i) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || name !== axis[i]) {
      throw new ConfigError(`task key '${key}' does not fit axis (${axis.join(', ')}); expected ${expected}`, { task: key });
    }
    out[name] = unescapeValue(part.slice(eq + 1));
  });
  return out;
}
