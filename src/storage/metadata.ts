import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { naturalCompare, sortValues } from '../components/natural-sort.js';
import { acquisitionSchema } from '../microscopes/acquisition-schema.js';
import { StorageError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { withFileLock, type FileLockOptions } from './lock.js';
import type { PlateflowMetadata, SubdirectoryFiles, SubdirectoryMetadata } from './metadata-types.js';
import { assertSafeRelativePath } from './safe-path.js';

/**
 * `plateflow_metadata.json`: read it, and update one sub-directory's entry when many tasks (async
 * calls, threads, processes) finish at once. Each update is a read-modify-write under a lock file
 * next to it, written atomically, so no task's files are lost and no reader sees a torn file.
 *
 * @module
 */

export const METADATA_FILE = 'plateflow_metadata.json';
/** Dot-prefixed so discovery of the output folder as a plate never mistakes it for data. */
export const METADATA_LOCK_FILE = '.plateflow_metadata.lock';

const stringRecord = z.record(z.string(), z.string());
const subdirectorySchema = z.object({
  handler: z.string(),
  sourceFormat: z.string(),
  backend: z.enum(['disk', 'zarr']),
  main: z.boolean(),
  grid: z.object({ rows: z.number().int().nonnegative(), columns: z.number().int().nonnegative() }).nullable(),
  acquisition: acquisitionSchema.optional(),
  components: z.record(z.string(), z.array(z.string())),
  files: z.record(z.string(), stringRecord),
});
const metadataSchema = z.object({
  format: z.literal('plateflow'),
  version: z.literal(1),
  subdirectories: z.record(z.string(), subdirectorySchema),
});

/**
 * The metadata of an output folder, or undefined when it has none.
 *
 * @throws StorageError (`E_STORAGE_IO`, `context.path` = the JSON file) when the file is not valid
 *   JSON or not plateflow metadata (the message names the offending key), or cannot be read.
 */
export async function readMetadata(outputRoot: string): Promise<PlateflowMetadata | undefined> {
  const file = path.join(outputRoot, METADATA_FILE);
  let text: string;
  try {
    // One blocking read: the file is small, and under the lock every other task waits on it.
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StorageError(file, `cannot read metadata: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StorageError(file, `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    throw new StorageError(file, `not plateflow metadata: ${where}: ${issue.message}`, { cause: parsed.error });
  }
  return parsed.data as PlateflowMetadata;
}

/**
 * Replace the entry of `subdir` with `update(previous entry)`, under the metadata lock, and write
 * the file atomically. Returns the metadata as written. `update` must be synchronous and pure: it
 * runs while other tasks wait. Sub-directory keys are written in natural order, so the file's
 * bytes do not depend on which task finished first.
 *
 * @throws UnsafePathError (`E_PATH_UNSAFE`) when `subdir` is not a safe relative path.
 * @throws StorageError (`E_STORAGE_IO`) as for `readMetadata`, on lock timeout, or when writing fails.
 */
export async function updateMetadata(
  outputRoot: string,
  subdir: string,
  update: (prev: SubdirectoryMetadata | undefined) => SubdirectoryMetadata,
  opts: FileLockOptions = {},
): Promise<PlateflowMetadata> {
  return rewriteMetadata(outputRoot, new Map([[subdir, update]]), opts);
}

/**
 * Adds the files of each batch to its sub-directory's entry (as `mergeSubdirectoryFiles` does), all
 * in one read-modify-write under the lock: how the coordinator records what its tasks wrote.
 *
 * @throws as for {@link updateMetadata}.
 */
export async function addMetadataFiles(outputRoot: string, batches: readonly SubdirectoryFiles[], opts: FileLockOptions = {}): Promise<PlateflowMetadata> {
  const bySubdir = new Map<string, { base: SubdirectoryFiles['base']; files: Record<string, Readonly<Record<string, string>>> }>();
  for (const b of batches) {
    const entry = bySubdir.get(b.subdir);
    if (entry) {
      entry.base = b.base;
      Object.assign(entry.files, b.files);
    } else bySubdir.set(b.subdir, { base: b.base, files: { ...b.files } });
  }
  const updates = new Map([...bySubdir].map(([subdir, { base, files }]) => [subdir, (prev: SubdirectoryMetadata | undefined) => mergeSubdirectoryFiles(prev, files, base)] as const));
  return rewriteMetadata(outputRoot, updates, opts);
}

async function rewriteMetadata(
  outputRoot: string,
  updates: ReadonlyMap<string, (prev: SubdirectoryMetadata | undefined) => SubdirectoryMetadata>,
  opts: FileLockOptions,
): Promise<PlateflowMetadata> {
  for (const subdir of updates.keys()) assertSafeRelativePath(subdir);
  return withFileLock(
    path.join(outputRoot, METADATA_LOCK_FILE),
    async () => {
      const current = await readMetadata(outputRoot);
      const subdirectories: Record<string, SubdirectoryMetadata> = { ...current?.subdirectories };
      for (const [subdir, update] of updates) subdirectories[subdir] = update(subdirectories[subdir]);
      const next: PlateflowMetadata = {
        format: 'plateflow',
        version: 1,
        subdirectories: Object.fromEntries(Object.keys(subdirectories).sort(naturalCompare).map((k) => [k, subdirectories[k]!])),
      };
      // Blocking: the lock must not be held across event-loop turns, which a busy worker gives late.
      await writeFileAtomic(path.join(outputRoot, METADATA_FILE), JSON.stringify(next, null, 2) + '\n', { fsync: 'blocking' });
      return next;
    },
    opts,
  );
}

/**
 * A sub-directory entry with `files` added to (or replacing same-named entries of) `prev`, and
 * `components` recomputed over all files: per component, its distinct values, sorted as discovery
 * sorts them (`sortValues`: numeric components numerically, others naturally). File names are
 * written in natural order.
 *
 * @throws UnsafePathError (`E_PATH_UNSAFE`) when a file name is not a safe relative path.
 */
export function mergeSubdirectoryFiles(
  prev: SubdirectoryMetadata | undefined,
  files: Readonly<Record<string, Readonly<Record<string, string>>>>,
  base: Omit<SubdirectoryMetadata, 'files' | 'components'>,
): SubdirectoryMetadata {
  for (const name of Object.keys(files)) assertSafeRelativePath(name);
  const all: Record<string, Readonly<Record<string, string>>> = { ...prev?.files, ...files };
  const merged: Record<string, Readonly<Record<string, string>>> = {};
  const values = new Map<string, Set<string>>();
  for (const name of Object.keys(all).sort(naturalCompare)) {
    const componentsOfFile = all[name]!;
    merged[name] = componentsOfFile;
    for (const [component, value] of Object.entries(componentsOfFile)) {
      let set = values.get(component);
      if (set === undefined) values.set(component, (set = new Set()));
      set.add(value);
    }
  }
  const components: Record<string, readonly string[]> = {};
  for (const [component, set] of values) components[component] = sortValues(component, set);
  return { ...base, components, files: merged };
}
