import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateStepComponents } from '../components/config.js';
import { PipelineError } from '../errors.js';
import type { FunctionRegistry } from '../pipeline/registry.js';
import { formatJsonPath } from '../pipeline/schema.js';
import type { FuncChain, FuncPattern, FuncRef, PipelineDefinition, StepDefinition } from '../pipeline/types.js';
import { isPythonRef, parsePythonRef, pythonRefOf } from '../python/target.js';
import { callsOf, type FuncCall, type StepPattern } from './plan.js';

export interface ResolvedStep {
  readonly index: number;
  readonly name: string;
  readonly id: string;
  readonly variableComponents: readonly string[];
  readonly groupBy: string | null;
  readonly pattern: StepPattern;
  readonly explicitBackend: StepDefinition['backend'];
  readonly gpu: boolean;
  /** Group values named by a map pattern, with the JSON path of the map, for validation against the plate. */
  readonly groupKeys: readonly string[];
  readonly hash: string;
}

export interface StepDefaults {
  readonly axis: readonly string[];
  readonly variable: readonly string[];
  readonly groupBy: string | null;
  readonly known: readonly string[];
  readonly gpuAvailable: boolean;
  /** What relative `py:./file.py:fn` references resolve against (the pipeline file's folder). */
  readonly baseDir: string;
}

/**
 * Phase 1 of compilation: every function name resolved in the registry, every kwargs object run
 * through the function's schema (so plans carry defaulted, validated kwargs), per-step component
 * overrides validated, and a chained hash per step for checkpoints.
 */
export function resolveSteps(pipeline: PipelineDefinition, registry: FunctionRegistry, defaults: StepDefaults): ResolvedStep[] {
  const usedIds = new Set<string>();
  let previousHash = '';
  return pipeline.steps.map((step, index) => {
    const at = (...path: PropertyKey[]) => formatJsonPath(['steps', index, ...path]);
    // Within one task the axis components are fixed, so naming one as variable changes nothing;
    // dropping it lets the same pipeline run along `well` or along `(well, site)`.
    const variable = (step.variableComponents ?? defaults.variable).filter((c) => !defaults.axis.includes(c));
    const groupBy = step.groupBy === undefined ? defaults.groupBy : step.groupBy;
    try {
      validateStepComponents(variable, groupBy, defaults.axis, defaults.known);
    } catch (err) {
      throw new PipelineError('E_PIPELINE_INVALID', `${at()}: ${(err as Error).message}`, { jsonPath: at(), step: step.name }, { cause: err });
    }
    const { pattern, groupKeys } = resolvePattern(step.func, registry, (...p) => at('func', ...p), defaults);
    if (groupKeys.length > 0 && groupBy === null) {
      throw new PipelineError('E_PIPELINE_INVALID', `${at('func')}: a per-group map needs a group-by component, but groupBy is null`, { jsonPath: at('func') });
    }
    const calls = callsOf(pattern);
    const gpu = calls.some((c) => !isPythonRef(c.fn) && registry.get(c.fn)?.gpu === true);
    const name = step.name ?? defaultStepName(calls);
    const id = uniqueId(`${index + 1}_${slug(name)}`, usedIds);
    // A user's .py file is code the plan names by path: editing it must invalidate checkpoints too.
    const code = calls.filter((c) => isPythonRef(c.fn)).map((c) => pythonCodeDigest(c.fn));
    const hash = createHash('sha256')
      .update(previousHash)
      .update(stableStringify(code.length > 0 ? { variable, groupBy, pattern, code } : { variable, groupBy, pattern }))
      .digest('hex')
      .slice(0, 16);
    previousHash = hash;
    return { index, name, id, variableComponents: variable, groupBy, pattern, explicitBackend: step.backend, gpu, groupKeys, hash };
  });
}

type PathFn = (...path: PropertyKey[]) => string;

function resolvePattern(func: FuncPattern, registry: FunctionRegistry, at: PathFn, defaults: StepDefaults): { pattern: StepPattern; groupKeys: string[] } {
  if (isGroupMap(func)) {
    const byGroup: Record<string, readonly FuncCall[]> = {};
    for (const [group, chain] of Object.entries(func)) byGroup[group] = resolveChain(chain, registry, (...p) => at(group, ...p), defaults);
    return { pattern: { default: null, byGroup }, groupKeys: Object.keys(func) };
  }
  return { pattern: { default: resolveChain(func, registry, at, defaults), byGroup: {} }, groupKeys: [] };
}

function isGroupMap(func: FuncPattern): func is { readonly [group: string]: FuncChain } {
  return typeof func === 'object' && func !== null && !Array.isArray(func) && !('fn' in func);
}

function resolveChain(chain: FuncChain, registry: FunctionRegistry, at: PathFn, defaults: StepDefaults): FuncCall[] {
  // A two-element array whose second item is an object is one `[name, kwargs]` reference, not a chain.
  const refs: readonly FuncRef[] = isSingleRef(chain) ? [chain] : (chain as readonly FuncRef[]);
  const single = isSingleRef(chain);
  return refs.map((ref, i) => resolveCall(ref, registry, single ? at : (...p) => at(i, ...p), defaults));
}

function isSingleRef(chain: FuncChain): chain is FuncRef {
  if (typeof chain === 'string') return true;
  if (!Array.isArray(chain)) return true;
  return typeof chain[0] === 'string' && (chain.length === 1 ? false : chain.length === 2 && typeof chain[1] === 'object' && chain[1] !== null && !Array.isArray(chain[1]));
}

function resolveCall(ref: FuncRef, registry: FunctionRegistry, at: PathFn, defaults: StepDefaults): FuncCall {
  const [name, rawKwargs] = typeof ref === 'string' ? [ref, {}] : Array.isArray(ref) ? [ref[0] as string, (ref[1] ?? {}) as Record<string, unknown>] : [(ref as { fn: string }).fn, (ref as { kwargs?: Record<string, unknown> }).kwargs ?? {}];
  if (isPythonRef(name)) return resolvePythonCall(name, rawKwargs, at, defaults.baseDir);
  const gpuAvailable = defaults.gpuAvailable;
  let fn = registry.get(name);
  if (!fn) {
    const near = registry.names().filter((n) => n.includes(name) || name.includes(n) || levenshtein(n, name) <= 3);
    const hint = near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : `; known functions: ${registry.names().join(', ')}`;
    throw new PipelineError('E_FUNCTION_UNKNOWN', `${at()}: unknown function "${name}"${hint}`, { jsonPath: at(), fn: name });
  }
  if (fn.gpu && !gpuAvailable) {
    const fallback = fn.cpuFallback ? registry.get(fn.cpuFallback) : undefined;
    if (!fallback) throw new PipelineError('E_PLAN_INVALID', `${at()}: function "${name}" needs a GPU, none was found, and it declares no CPU fallback`, { jsonPath: at(), fn: name });
    fn = fallback;
  }
  let kwargs: Record<string, unknown> = { ...rawKwargs };
  if (fn.kwargs) {
    const parsed = fn.kwargs.safeParse(rawKwargs);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = at('kwargs', ...issue.path);
      throw new PipelineError('E_KWARGS_INVALID', `${where}: bad kwargs for "${fn.name}": ${issue.message}`, { jsonPath: where, fn: fn.name });
    }
    kwargs = parsed.data as Record<string, unknown>;
  }
  return { fn: fn.name, kwargs };
}

/**
 * A Python function: the reference is made absolute (a `.py` file against the pipeline's folder),
 * and its kwargs go to Python as JSON, so they must survive JSON unchanged. Whether the module
 * imports and the function exists is checked once per run by the Python probe (compile.ts).
 */
function resolvePythonCall(name: string, rawKwargs: Record<string, unknown>, at: PathFn, baseDir: string): FuncCall {
  let fn: string;
  try {
    fn = pythonRefOf(parsePythonRef(name, baseDir));
  } catch (err) {
    throw new PipelineError('E_PIPELINE_INVALID', `${at()}: ${(err as Error).message}`, { jsonPath: at(), fn: name }, { cause: err });
  }
  const text = JSON.stringify(rawKwargs);
  if (text === undefined || stableStringify(JSON.parse(text)) !== stableStringify(rawKwargs)) {
    throw new PipelineError('E_KWARGS_INVALID', `${at('kwargs')}: kwargs for "${name}" go to Python as JSON and must be plain JSON values (numbers, strings, booleans, null, lists, objects)`, { jsonPath: at('kwargs'), fn: name });
  }
  return { fn, kwargs: JSON.parse(text) as Record<string, unknown> };
}

/** A digest of a `py:` file target's source (empty for an importable module: its version is the environment's). */
function pythonCodeDigest(ref: string): string {
  const target = parsePythonRef(ref, '/');
  if (target.kind !== 'file') return '';
  try {
    return createHash('sha256').update(readFileSync(target.file)).digest('hex').slice(0, 16);
  } catch {
    return 'unreadable'; // the probe reports it
  }
}

function defaultStepName(calls: readonly FuncCall[]): string {
  // For `py:…/file.py:segment`, the function's name, not its path.
  return calls.length === 0 ? 'step' : calls.map((c) => (isPythonRef(c.fn) ? c.fn.slice(c.fn.lastIndexOf(':') + 1) : c.fn)).join('+');
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 48) || 'step';
}

function uniqueId(base: string, used: Set<string>): string {
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
  used.add(id);
  return id;
}

/** JSON with object keys sorted, so equal plans hash equally regardless of key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
