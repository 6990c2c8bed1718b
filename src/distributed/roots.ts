/**
 * Which paths a worker may touch. Anyone who can write to the queue's Redis can put a job in it,
 * so a worker started with `--roots /data,/scratch` refuses a plan whose plate, output folder or
 * user module lies anywhere else, before anything runs. Paths are compared after resolving
 * symlinks (of the deepest part that exists), so `/data/link -> /etc` does not pass as `/data`.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { callsOf, type TaskPlan } from '../compiler/plan.js';
import { isPythonRef, parsePythonRef } from '../python/target.js';
import { ConfigError, UnsafePathError } from '../errors.js';

/** An npm package name, optionally with a sub-path: what a pipeline may name instead of a file. */
const PACKAGE_SPECIFIER = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(?:\/[A-Za-z0-9._~@-]+)*$/;
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Resolves the roots a worker was given (each must exist and be a directory's absolute path).
 * @throws ConfigError E_CONFIG_INVALID naming `--roots` and the bad entry
 */
export async function resolveRoots(roots: readonly string[]): Promise<readonly string[]> {
  if (roots.length === 0) throw new ConfigError('--roots needs at least one directory the worker may read and write, e.g. --roots /data,/scratch');
  const out: string[] = [];
  for (const root of roots) {
    if (!path.isAbsolute(root)) throw new ConfigError(`--roots entries must be absolute paths, got "${root}"`);
    try {
      out.push(await realpath(root));
    } catch (err) {
      throw new ConfigError(`--roots entry "${root}" cannot be resolved: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return out;
}

/** The real path of `p`: symlinks resolved in the part that exists, the rest appended. */
async function realPathOf(p: string): Promise<string> {
  const missing: string[] = [];
  let current = path.resolve(p);
  for (;;) {
    try {
      return path.join(await realpath(current), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = path.dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw err;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Real paths resolved in the last few seconds. Tasks of a run share their plate and output folder,
 * so a busy worker would otherwise resolve the same paths for every job. Checking and using a path
 * are never atomic anyway (a symlink can change in between), and only someone who can already
 * write inside the roots can change one, so a short memory costs no safety.
 */
export class RealPathCache {
  readonly #entries = new Map<string, { readonly real: string; readonly at: number }>();

  constructor(
    readonly ttlMs = 5000,
    readonly max = 1000,
  ) {}

  async get(p: string): Promise<string> {
    const now = Date.now();
    const hit = this.#entries.get(p);
    if (hit && now - hit.at < this.ttlMs) return hit.real;
    const real = await realPathOf(p);
    this.#entries.delete(p);
    this.#entries.set(p, { real, at: now });
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
    return real;
  }
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function assertInsideRoots(what: string, p: string, roots: readonly string[], cache: RealPathCache | undefined): Promise<void> {
  const real = cache ? await cache.get(p) : await realPathOf(p);
  if (!roots.some((root) => inside(root, real))) {
    throw new UnsafePathError(p, `${what} is outside the worker's roots (${roots.join(', ')})${real !== p ? `; it resolves to ${real}` : ''}`);
  }
}

/**
 * Refuses a plan that names a path outside `roots` (resolved with {@link resolveRoots}) or a
 * module the worker should not import: `data:`, `http:`, `node:` and other URLs are refused,
 * `file:` URLs and paths must lie inside the roots, and bare package names resolve from the
 * worker's own installation.
 * @throws UnsafePathError E_PATH_UNSAFE naming the path and the roots
 */
export async function assertPlanInsideRoots(plan: TaskPlan, roots: readonly string[], cache?: RealPathCache): Promise<void> {
  await assertInsideRoots('the plate', plan.plate.root, roots, cache);
  await assertInsideRoots('the output folder', plan.outputRoot, roots, cache);
  for (const step of plan.steps) if (step.outputDir !== null) await assertInsideRoots(`the output of step "${step.name}"`, step.outputDir, roots, cache);
  for (const specifier of plan.modules) {
    const hash = specifier.lastIndexOf('#');
    const target = hash > 0 ? specifier.slice(0, hash) : specifier;
    if (target.startsWith('file:')) {
      let file: string;
      try {
        file = fileURLToPath(target);
      } catch {
        throw new UnsafePathError(specifier, 'not a valid file URL');
      }
      await assertInsideRoots('a function module', file, roots, cache);
    } else if (path.isAbsolute(target)) {
      await assertInsideRoots('a function module', target, roots, cache);
    } else if (URL_SCHEME.test(target) || !PACKAGE_SPECIFIER.test(target)) {
      throw new UnsafePathError(specifier, 'a function module must be a file inside the worker\'s roots or an installed package name');
    }
  }
  await assertPythonInsideRoots(plan, roots, cache);
}

/**
 * A `.py` file a Python step calls must lie inside the roots, as a JS module must; an importable
 * module resolves in the worker's own Python, like a package name. (The interpreter is the
 * worker's, never the plan's: see `WorkerOptions.python`.)
 */
async function assertPythonInsideRoots(plan: TaskPlan, roots: readonly string[], cache: RealPathCache | undefined): Promise<void> {
  if (plan.python === null) return;
  for (const step of plan.steps) {
    for (const call of callsOf(step.pattern)) {
      if (!isPythonRef(call.fn)) continue;
      const target = parsePythonRef(call.fn, '/');
      if (target.kind === 'file') await assertInsideRoots(`the Python file of step "${step.name}"`, target.file, roots, cache);
    }
  }
}
