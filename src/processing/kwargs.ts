/**
 * Keyword-argument validation for processing functions: one schema per function, one error shape for all.
 */
import { PipelineError } from '../errors.js';
import type { FunctionDefinition } from './types.js';

interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  try {
    return `${JSON.stringify(v)} (${Array.isArray(v) ? 'array' : typeof v})`;
  } catch {
    return typeof v;
  }
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/**
 * Validates `raw` against the function's schema and returns the kwargs with defaults applied.
 *
 * @throws PipelineError `E_KWARGS_INVALID` naming the function, the kwarg (`context.kwarg`), the rule and
 *   the value received; unknown kwargs are rejected (every built-in schema is strict).
 */
export function parseKwargs<K>(def: FunctionDefinition<K>, raw: unknown, jsonPath?: string): K {
  const result = def.kwargs.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues as readonly Issue[];
  const first = issues[0]!;
  const where = jsonPath === undefined ? {} : { jsonPath };
  if (first.code === 'unrecognized_keys' && first.keys && first.keys.length > 0) {
    const names = first.keys.map((k) => `"${k}"`).join(', ');
    throw new PipelineError(
      'E_KWARGS_INVALID',
      `${def.name}: unknown kwarg${first.keys.length > 1 ? 's' : ''} ${names}`,
      { fn: def.name, kwarg: first.keys[0], ...where },
    );
  }
  const kwarg = first.path.map(String).join('.');
  if (kwarg === '') {
    throw new PipelineError('E_KWARGS_INVALID', `${def.name}: kwargs ${first.message} (got ${describeValue(raw)})`, {
      fn: def.name,
      ...where,
    });
  }
  throw new PipelineError(
    'E_KWARGS_INVALID',
    `${def.name}: kwarg "${kwarg}": ${first.message} (got ${describeValue(valueAt(raw, first.path))})`,
    { fn: def.name, kwarg, ...where },
  );
}
