/**
 * `py:` references: how a pipeline names a Python function, and the one canonical text of it that
 * plans carry (file paths made absolute, so every worker on any cwd finds the same file).
 */
import path from 'node:path';
import { PipelineError } from '../errors.js';

/** What a `py:` reference names: an importable module or a .py file (absolute path), and a function in it. */
export type PythonTarget =
  | { readonly kind: 'module'; readonly module: string; readonly function: string }
  | { readonly kind: 'file'; readonly file: string; readonly function: string };

const PREFIX = 'py:';
/** A Python identifier, or several joined by dots (`pkg.sub`, `Class.method`). */
const DOTTED_NAME = /^[\p{L}_][\p{L}\p{N}_]*(\.[\p{L}_][\p{L}\p{N}_]*)*$/u;
const FORMS = 'write "py:module.name:function" (an importable module) or "py:path/to/file.py:function" (a file, relative to the pipeline file)';

export function isPythonRef(name: string): boolean {
  return name.startsWith(PREFIX);
}

/**
 * "py:skimage.filters:gaussian" | "py:/abs/path/x.py:segment" → PythonTarget. A file is told from a
 * module by a path separator or a `.py` ending; relative file paths are resolved against `baseDir`.
 * The function is after the last colon, so a Windows drive letter in the path does no harm.
 * @throws PipelineError E_PIPELINE_INVALID for malformed text, saying what the forms are
 */
export function parsePythonRef(ref: string, baseDir: string): PythonTarget {
  const invalid = (why: string) => new PipelineError('E_PIPELINE_INVALID', `${JSON.stringify(ref)} is not a Python function reference (${why}): ${FORMS}`, { fn: ref });
  if (!isPythonRef(ref)) throw invalid(`it does not start with "${PREFIX}"`);
  const body = ref.slice(PREFIX.length);
  const colon = body.lastIndexOf(':');
  if (colon < 0) throw invalid('no ":" before the function name');
  const where = body.slice(0, colon);
  const fn = body.slice(colon + 1);
  if (where === '') throw invalid('no module or file before the function name');
  if (!DOTTED_NAME.test(fn)) throw invalid(fn === '' ? 'no function name after the last ":"' : `${JSON.stringify(fn)} is not a Python name`);
  const isFile = where.endsWith('.py') || where.includes('/') || where.includes(path.sep) || path.isAbsolute(where);
  if (isFile) return { kind: 'file', file: path.resolve(baseDir, where), function: fn };
  if (!DOTTED_NAME.test(where)) throw invalid(`${JSON.stringify(where)} is neither a module name nor a path to a .py file`);
  return { kind: 'module', module: where, function: fn };
}

/** The canonical "py:…" text of a target (absolute file path), what plans carry as FuncCall.fn. */
export function pythonRefOf(target: PythonTarget): string {
  return `${PREFIX}${target.kind === 'module' ? target.module : target.file}:${target.function}`;
}
