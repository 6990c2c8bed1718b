import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../errors.js';
import { resolveInside } from './safe-path.js';

/**
 * What a task's checkpoints remember of its input files, so that a resume never keeps results of
 * inputs that were replaced since (a re-acquired well, a corrected file).
 *
 * - `stat` (default): per file its size, modification time (ns) and inode. Replacing a file
 *   (copy over it, move another in its place, edit it) changes at least one of them. Reading the
 *   metadata of a task's files costs microseconds each. A file rewritten with identical bytes
 *   still counts as changed; a change that keeps size and mtime and inode (tools that restore
 *   mtimes after editing in place) goes unseen.
 * - `content` (`--verify-inputs`): a SHA-256 of each file's bytes. Only real changes count, at
 *   the price of reading every input once more.
 *
 * An input that is a directory (an OME-Zarr array) stands for every file under it.
 *
 * @module
 */
export type InputCheck = 'stat' | 'content';

/**
 * A hex digest of the identity of these records' files (each file once, in a fixed order).
 * @throws StorageError E_STORAGE_IO naming an input that cannot be read
 */
export function inputIdentity(plateRoot: string, inputs: readonly { readonly path: string }[], check: InputCheck): string {
  const hash = createHash('sha256').update(check);
  const seen = new Set<string>();
  for (const record of inputs) {
    if (seen.has(record.path)) continue;
    seen.add(record.path);
    const file = resolveInside(plateRoot, record.path);
    hash.update(`\n${record.path}\u0000`);
    for (const [name, stats] of filesOf(file)) {
      hash.update(`${name}\u0000`);
      if (check === 'content') hash.update(readBytes(path.join(file, name)));
      else hash.update(`${stats.size}:${stats.mtimeNs}:${stats.ino}`);
    }
  }
  return hash.digest('hex').slice(0, 32);
}

/** The file itself (name ''), or every file under a directory, sorted by relative path. */
function filesOf(file: string): [string, BigIntStats][] {
  const stats = statOf(file);
  if (!stats.isDirectory()) return [['', stats]];
  const out: [string, BigIntStats][] = [];
  const walk = (dir: string, prefix: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), relative);
      else out.push([relative, statOf(path.join(dir, entry.name))]);
    }
  };
  try {
    walk(file, '');
  } catch (err) {
    throw new StorageError(file, `cannot list input: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

function statOf(file: string): BigIntStats {
  try {
    return statSync(file, { bigint: true });
  } catch (err) {
    throw new StorageError(file, `cannot read input: ${(err as Error).message}`, { cause: err });
  }
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new StorageError(file, `cannot read input: ${(err as Error).message}`, { cause: err });
  }
}
