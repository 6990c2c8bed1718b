import { z } from 'zod';
import { PipelineError } from '../errors.js';
import type { PipelineDefinition } from './types.js';

const kwargs = z.record(z.string(), z.unknown());
const funcName = z.string().min(1, 'function name must not be empty');

const funcRef = z.union([
  funcName,
  z.tuple([funcName]),
  z.tuple([funcName, kwargs]),
  z.object({ fn: funcName, kwargs: kwargs.optional() }).strict(),
]);

const funcChain = z.union([funcRef, z.array(funcRef).min(1, 'a chain needs at least one function')]);

/** A map pattern may not use the keys of a `{fn, kwargs}` reference, or the two would be ambiguous. */
const groupMap = z
  .record(z.string(), funcChain)
  .refine((m) => !('fn' in m) && !('kwargs' in m), { message: 'a group map may not have keys "fn" or "kwargs"' })
  .refine((m) => Object.keys(m).length > 0, { message: 'a group map needs at least one group' });

const componentName = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'component names are letters and digits');

const step = z
  .object({
    name: z.string().min(1).max(80).optional(),
    func: z.union([funcChain, groupMap]),
    variableComponents: z.array(componentName).optional(),
    groupBy: componentName.nullable().optional(),
    backend: z.enum(['memory', 'disk']).optional(),
  })
  .strict();

export const pipelineSchema = z
  .object({
    name: z.string().optional(),
    modules: z.array(z.string().min(1)).optional(),
    axis: z.union([componentName, z.array(componentName).min(1)]).optional(),
    variableComponents: z.array(componentName).optional(),
    groupBy: componentName.nullable().optional(),
    steps: z.array(step).min(1, 'a pipeline needs at least one step'),
  })
  .strict();

/** `steps[1].func` style path for a zod issue path. */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Validates a parsed pipeline document. The first problem becomes a PipelineError whose message
 * starts with the source and JSON path, e.g. `standard.json: steps[1].func: ...`.
 */
export function parsePipeline(document: unknown, source = 'pipeline'): PipelineDefinition {
  const result = pipelineSchema.safeParse(document);
  if (result.success) return result.data as PipelineDefinition;
  const issues = result.error.issues.map((issue) => `${formatJsonPath(issue.path)}: ${issue.message}`);
  const first = result.error.issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1, 4).join('; ')})` : '';
  throw new PipelineError('E_PIPELINE_INVALID', `${source}: ${issues[0]}${more}`, {
    file: source,
    jsonPath: formatJsonPath(first.path),
  });
}
