/**
 * Where an image request may read: a path relative to the run's output folder, checked by name
 * (no `..`, no absolute path, no backslash or NUL: storage/safe-path.ts) and then by what it
 * really is on disk, so a symlink inside the outputs that points outside them is refused too.
 *
 * @module
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../errors.js';
import { resolveInside } from '../storage/safe-path.js';

/**
 * The real path of `relative` under `root`.
 * @throws UnsafePathError `E_PATH_UNSAFE` for a bad name or a target outside `root`;
 *   PlateflowError-free fs errors (ENOENT) pass through for the caller to map to 404.
 */
export async function resolveOutputPath(root: string, relative: string): Promise<string> {
  const joined = resolveInside(root, relative);
  const [realRoot, realTarget] = await Promise.all([realpath(root), realpath(joined)]);
  const rel = path.relative(realRoot, realTarget);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new UnsafePathError(relative, 'resolves outside the output folder');
  return realTarget;
}
