/**
 * The one recursive walk of a plate folder. Everything else in discovery works on its result.
 *
 * Skipped while walking: hidden files and folders (`.DS_Store`, `.git`, our own temp files) except
 * Zarr v2 metadata (`.zattrs`, `.zgroup`, `.zarray`, `.zmetadata`), and plateflow's own output
 * folders inside the plate: output written into the data folder (`--out <plate>/out`) must never be
 * read back as more input, or a rerun would fail on file names that are not the plate's format.
 * An output folder is known by what every run writes into it (its checkpoint folder `.plateflow/`
 * from the first finished step, `plateflow_metadata.json`), or by the default name `*_plateflow`.
 * Skipped output folders are listed in `PlateListing.skipped`, so the user is told. The plate
 * folder itself is never skipped: an output folder is a valid plate (see plateflow-output.ts).
 * Symbolic links are followed; a linked folder already visited (a cycle) is not entered twice.
 *
 * @module
 */
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { DiscoveryError, StorageError } from '../errors.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import { METADATA_FILE } from '../storage/metadata.js';
import type { PlateListing } from './handler.js';
import type { SkippedFile } from './types.js';

const OUTPUT_DIR_SUFFIX = '_plateflow';
/** Entries that only plateflow writes into an output folder's root. */
const OUTPUT_MARKERS: ReadonlySet<string> = new Set([CHECKPOINT_DIR, METADATA_FILE]);
/** Zarr v2 metadata documents are dot-files; OME-Zarr detection needs to see them. */
const ZARR_DOTFILES = new Set(['.zattrs', '.zgroup', '.zarray', '.zmetadata']);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Lists every file under `root` as sorted POSIX paths relative to it.
 *
 * @throws DiscoveryError `E_PLATE_NOT_FOUND` when `root` does not exist or is not a folder.
 * @throws StorageError `E_STORAGE_IO` when a folder cannot be read (e.g. permissions).
 */
export async function listPlate(root: string): Promise<PlateListing> {
  const abs = path.resolve(root);
  try {
    const s = await stat(abs);
    if (!s.isDirectory()) {
      throw new DiscoveryError('E_PLATE_NOT_FOUND', `plate path ${abs} is a file, not a folder; point plateflow at the plate folder`, { path: abs });
    }
  } catch (err) {
    if (err instanceof DiscoveryError) throw err;
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') {
      throw new DiscoveryError('E_PLATE_NOT_FOUND', `plate folder ${abs} does not exist`, { path: abs });
    }
    throw new StorageError(abs, `cannot open the plate folder: ${(err as Error).message}`, { cause: err });
  }

  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  const visited = new Set<string>([await realpath(abs)]);
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new StorageError(dir, `cannot list folder: ${(err as Error).message}`, { cause: err });
    }
    if (rel !== '') {
      const marker = entries.find((e) => OUTPUT_MARKERS.has(e.name));
      if (marker) {
        skipped.push({ path: rel, reason: `a plateflow output folder (it holds ${marker.name}): not read as input` });
        return;
      }
    }
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith('.') && !ZARR_DOTFILES.has(name)) continue;
      const relPath = rel === '' ? name : `${rel}/${name}`;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (isFile) {
        files.push(relPath);
        continue;
      }
      const full = path.join(dir, name);
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch((err: unknown) => {
          if (errno(err) === 'ENOENT') return undefined; // dangling link: nothing to read
          throw new StorageError(full, `cannot follow link: ${(err as Error).message}`, { cause: err });
        });
        if (!target) continue;
        isDir = target.isDirectory();
        isFile = target.isFile();
      }
      if (isDir) {
        if (name.endsWith(OUTPUT_DIR_SUFFIX)) {
          skipped.push({ path: relPath, reason: `named like a plateflow output folder (*${OUTPUT_DIR_SUFFIX}): not read as input` });
          continue;
        }
        const real = await realpath(full);
        if (visited.has(real)) continue;
        visited.add(real);
        await walk(full, relPath);
      } else if (isFile) {
        files.push(relPath);
      }
    }
  };
  await walk(abs, '');
  // The default sort compares strings by UTF-16 code units, like `<`, without a call per comparison.
  files.sort();
  return { root: abs, files, ...(skipped.length > 0 ? { skipped } : {}) };
}
