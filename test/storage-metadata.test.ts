import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError, UnsafePathError } from '../src/errors.js';
import { METADATA_FILE, mergeSubdirectoryFiles, readMetadata, updateMetadata } from '../src/storage/metadata.js';
import type { SubdirectoryMetadata } from '../src/storage/metadata-types.js';
import { buildStorage, type StorageBuild } from './fixtures/storage/build-storage.js';
import { runWriters } from './fixtures/storage/run-writers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-metadata-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BASE = { handler: 'plateflow', sourceFormat: 'ImageXpress', backend: 'disk', main: false, grid: { rows: 8, columns: 12 } } as const;

async function freshRoot(name: string): Promise<string> {
  const root = path.join(dir, name);
  await mkdir(root, { recursive: true });
  return root;
}

describe('readMetadata', () => {
  it('is undefined when the folder has no metadata (or does not exist)', async () => {
    expect(await readMetadata(await freshRoot('empty'))).toBeUndefined();
    expect(await readMetadata(path.join(dir, 'no-such-folder'))).toBeUndefined();
  });

  it('raises StorageError with the path for invalid JSON', async () => {
    const root = await freshRoot('bad-json');
    await writeFile(path.join(root, METADATA_FILE), '{"format": "plateflow",');
    const err = await readMetadata(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).context.path).toBe(path.join(root, METADATA_FILE));
    expect((err as StorageError).message).toMatch(/invalid JSON/);
  });

  it('raises StorageError naming the offending key for JSON that is not plateflow metadata', async () => {
    const root = await freshRoot('bad-shape');
    const doc = { format: 'plateflow', version: 1, subdirectories: { out: { ...BASE, components: {}, files: { 'a.tif': { well: 3 } } } } };
    await writeFile(path.join(root, METADATA_FILE), JSON.stringify(doc));
    await expect(readMetadata(root)).rejects.toThrow(/not plateflow metadata: subdirectories\.out\.files\.a\.tif\.well/);
  });
});

describe('mergeSubdirectoryFiles', () => {
  it('merges files, lets new entries win, and recomputes naturally sorted components', () => {
    const prev = mergeSubdirectoryFiles(undefined, {
      'well-A10_site-10.tif': { well: 'A10', site: '10' },
      'well-A2_site-2.tif': { well: 'A2', site: '2' },
    }, BASE);
    const next = mergeSubdirectoryFiles(prev, {
      'well-B1_site-1.tif': { well: 'B1', site: '1' },
      'well-A2_site-2.tif': { well: 'A2', site: '2', channel: '1' },
    }, { ...BASE, main: true });
    expect(next).toEqual({
      ...BASE,
      main: true,
      components: { well: ['A2', 'A10', 'B1'], site: ['1', '2', '10'], channel: ['1'] },
      files: {
        'well-A2_site-2.tif': { well: 'A2', site: '2', channel: '1' },
        'well-A10_site-10.tif': { well: 'A10', site: '10' },
        'well-B1_site-1.tif': { well: 'B1', site: '1' },
      },
    } satisfies SubdirectoryMetadata);
    expect(Object.keys(next.files)).toEqual(['well-A2_site-2.tif', 'well-A10_site-10.tif', 'well-B1_site-1.tif']);
  });

  it('rejects file names that would escape the sub-directory', () => {
    expect(() => mergeSubdirectoryFiles(undefined, { '../evil.tif': { well: 'A1' } }, BASE)).toThrow(UnsafePathError);
  });
});

describe('updateMetadata', () => {
  it('creates the file, keeps other sub-directories, and writes keys in natural order', async () => {
    const root = await freshRoot('basic');
    await updateMetadata(root, 'step10', (prev) => mergeSubdirectoryFiles(prev, { 'a.tif': { well: 'A1' } }, BASE));
    const written = await updateMetadata(root, 'step2', (prev) => mergeSubdirectoryFiles(prev, { 'b.tif': { well: 'B1' } }, BASE));
    const read = await readMetadata(root);
    expect(read).toEqual(written);
    expect(Object.keys(read!.subdirectories)).toEqual(['step2', 'step10']);
    expect(read!.subdirectories['step10']!.files).toEqual({ 'a.tif': { well: 'A1' } });
    expect((await readdir(root)).sort()).toEqual([METADATA_FILE]);
  });

  it('rejects an unsafe sub-directory name before touching anything', async () => {
    const root = await freshRoot('unsafe');
    await expect(updateMetadata(root, '../x', () => mergeSubdirectoryFiles(undefined, {}, BASE))).rejects.toBeInstanceOf(UnsafePathError);
    expect(await readdir(root)).toEqual([]);
  });

  it('leaves the file untouched and releases the lock when update throws', async () => {
    const root = await freshRoot('throws');
    await updateMetadata(root, 'out', (prev) => mergeSubdirectoryFiles(prev, { 'a.tif': { well: 'A1' } }, BASE));
    const before = await readFile(path.join(root, METADATA_FILE), 'utf8');
    await expect(updateMetadata(root, 'out', () => { throw new Error('bad update'); })).rejects.toThrow('bad update');
    expect(await readFile(path.join(root, METADATA_FILE), 'utf8')).toBe(before);
    await updateMetadata(root, 'out', (prev) => mergeSubdirectoryFiles(prev, { 'b.tif': { well: 'B1' } }, BASE), { timeoutMs: 0 });
  });

  it('loses no entry with 16 concurrent writers in one process', async () => {
    const root = await freshRoot('in-process');
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 5; i++) {
          await updateMetadata(root, 'out', (prev) => mergeSubdirectoryFiles(prev, { [`w${w}-${i}.tif`]: { writer: String(w) } }, BASE));
        }
      }),
    );
    const meta = await readMetadata(root);
    expect(Object.keys(meta!.subdirectories['out']!.files)).toHaveLength(80);
    expect(meta!.subdirectories['out']!.components['writer']).toEqual(Array.from({ length: 16 }, (_, w) => String(w)));
  });
});

describe('updateMetadata across processes and worker threads', () => {
  let build: StorageBuild;
  beforeAll(async () => {
    build = await buildStorage();
  });
  afterAll(async () => {
    await build?.cleanup();
  });

  it('loses no entry with 16 child processes and 4 worker threads writing at once', async () => {
    const root = await freshRoot('multi-process');
    const count = 5;
    await runWriters(build.storageDir, 'metadata', root, { processes: 16, threads: 4, count });
    const meta = await readMetadata(root);
    const files = meta!.subdirectories['out']!.files;
    const writers = [...Array.from({ length: 16 }, (_, i) => `p${i}`), ...Array.from({ length: 4 }, (_, i) => `t${i}`)];
    const expected = writers.flatMap((w) => Array.from({ length: count }, (_, n) => `writer-${w}_n-${n}.tif`));
    expect(Object.keys(files).sort()).toEqual(expected.sort());
    expect(meta!.subdirectories['out']!.components['n']).toEqual(['0', '1', '2', '3', '4']);
    // Nothing left behind: no temp files, no lock.
    expect(await readdir(root)).toEqual([METADATA_FILE]);
  });
});
