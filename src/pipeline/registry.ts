import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PipelineError } from '../errors.js';
import { BUILTIN_FUNCTIONS } from '../processing/builtins.js';
import type { FunctionDefinition, ImageFunction } from '../processing/types.js';

/** The subset of a zod schema the registry needs, so user modules need not depend on zod. */
interface KwargsSchema {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

export interface RegisteredFunction {
  readonly name: string;
  readonly description: string;
  readonly run: ImageFunction<never>;
  readonly kwargs?: KwargsSchema;
  readonly gpu: boolean;
  readonly cpuFallback?: string;
  /** Where it came from: 'builtin' or the module URL, so workers can load the same code. */
  readonly source: string;
}

/**
 * Functions by name. Built-ins are registered explicitly (never by import side effects), user
 * modules are loaded by URL. The compiler resolves names once; the plan carries the module URLs so
 * every worker builds an identical registry.
 */
export class FunctionRegistry {
  readonly #functions = new Map<string, RegisteredFunction>();
  readonly #loadedModules = new Set<string>();

  static withBuiltins(): FunctionRegistry {
    const registry = new FunctionRegistry();
    for (const def of BUILTIN_FUNCTIONS) registry.register(def as unknown as FunctionDefinition<never>, 'builtin');
    return registry;
  }

  register(def: FunctionDefinition<never> | RegisteredFunction, source = 'code'): void {
    if (this.#functions.has(def.name)) {
      const existing = this.#functions.get(def.name)!;
      if (existing.run === def.run) return;
      throw new PipelineError('E_MODULE_LOAD', `function "${def.name}" from ${source} clashes with the one from ${existing.source}`, { fn: def.name });
    }
    this.#functions.set(def.name, {
      name: def.name,
      description: def.description ?? '',
      run: def.run,
      kwargs: def.kwargs as KwargsSchema | undefined,
      gpu: def.gpu ?? false,
      ...(def.cpuFallback ? { cpuFallback: def.cpuFallback } : {}),
      source,
    });
  }

  get(name: string): RegisteredFunction | undefined {
    return this.#functions.get(name);
  }

  names(): string[] {
    return [...this.#functions.keys()].sort();
  }

  /** Loads the modules named in a plan (already resolved URLs, optionally with `#export`). */
  async loadModules(moduleUrls: readonly string[]): Promise<void> {
    for (const url of moduleUrls) await this.loadModule(url);
  }

  /** @throws PipelineError E_MODULE_LOAD when the module cannot be imported or exports no function */
  async loadModule(resolvedSpecifier: string): Promise<void> {
    if (this.#loadedModules.has(resolvedSpecifier)) return;
    const [url, exportName] = splitExport(resolvedSpecifier);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      throw new PipelineError('E_MODULE_LOAD', `cannot load function module ${url}: ${(err as Error).message}`, { file: url }, { cause: err });
    }
    const picked = exportName ? { [exportName]: mod[exportName] } : mod;
    if (exportName && mod[exportName] === undefined) {
      throw new PipelineError('E_MODULE_LOAD', `module ${url} has no export "${exportName}"`, { file: url });
    }
    let count = 0;
    for (const [key, value] of Object.entries(picked)) {
      for (const def of asDefinitions(key, value)) {
        this.register(def, url);
        count++;
      }
    }
    if (count === 0) throw new PipelineError('E_MODULE_LOAD', `module ${url} exports no processing function`, { file: url });
    this.#loadedModules.add(resolvedSpecifier);
  }
}

function splitExport(specifier: string): [string, string | undefined] {
  const hash = specifier.lastIndexOf('#');
  // A leading '#' is a package import map entry, not an export selector.
  if (hash <= 0) return [specifier, undefined];
  return [specifier.slice(0, hash), specifier.slice(hash + 1) || undefined];
}

function asDefinitions(exportName: string, value: unknown): RegisteredFunction[] {
  if (exportName === 'default' && Array.isArray(value)) return value.flatMap((v) => asDefinitions('default', v));
  if (typeof value === 'function') {
    if (exportName === 'default') return [];
    return [{ name: exportName, description: '', run: value as ImageFunction<never>, gpu: false, source: '' }];
  }
  if (value && typeof value === 'object' && typeof (value as { run?: unknown }).run === 'function' && typeof (value as { name?: unknown }).name === 'string') {
    const def = value as FunctionDefinition<never>;
    return [{ name: def.name, description: def.description ?? '', run: def.run, kwargs: def.kwargs as KwargsSchema | undefined, gpu: def.gpu ?? false, ...(def.cpuFallback ? { cpuFallback: def.cpuFallback } : {}), source: '' }];
  }
  return [];
}

/**
 * Turns a module reference from a pipeline file into something `import()` accepts from any worker:
 * a file path (relative to the pipeline file's directory) becomes a file URL, a package specifier
 * is resolved from that directory. The `#export` suffix is kept.
 */
export function resolveModuleSpecifier(specifier: string, baseDir: string): string {
  const [target, exportName] = splitExport(specifier);
  const suffix = exportName ? `#${exportName}` : '';
  if (target.startsWith('file:')) return target + suffix;
  if (target.startsWith('.') || path.isAbsolute(target)) return pathToFileURL(path.resolve(baseDir, target)).href + suffix;
  try {
    return pathToFileURL(createRequire(path.join(baseDir, 'noop.js')).resolve(target)).href + suffix;
  } catch {
    // ESM-only packages have no `require` condition; leave the bare specifier for import().
    return target + suffix;
  }
}
