import path from 'node:path';
import { UnsafePathError } from '../errors.js';

/**
 * Names that come from data or pipeline files must stay inside their root. A relative POSIX path
 * of plain segments is accepted; `..`, absolute paths, backslashes, NUL and empty segments are not.
 */
export function assertSafeRelativePath(name: string): string {
  if (name.length === 0) throw new UnsafePathError(name, 'empty name');
  if (name.includes('\0')) throw new UnsafePathError(name, 'contains a NUL byte');
  if (name.includes('\\')) throw new UnsafePathError(name, 'contains a backslash');
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:/.test(name)) throw new UnsafePathError(name, 'absolute paths are not allowed');
  for (const segment of name.split('/')) {
    if (segment === '..') throw new UnsafePathError(name, "'..' is not allowed");
    if (segment === '' || segment === '.') throw new UnsafePathError(name, 'empty or "." path segment');
  }
  return name;
}

/** One path segment (a file or directory name): no separators at all. */
export function assertSafeSegment(name: string): string {
  if (name.includes('/')) throw new UnsafePathError(name, 'a single name may not contain "/"');
  return assertSafeRelativePath(name);
}

/** Join a checked relative path onto a root, and prove the result is still inside the root. */
export function resolveInside(root: string, relative: string): string {
  assertSafeRelativePath(relative);
  const full = path.resolve(root, relative);
  const rel = path.relative(path.resolve(root), full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UnsafePathError(relative, `escapes ${root}`);
  return full;
}
