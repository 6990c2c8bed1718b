import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { tempFileOwner, writeFileAtomic } from '../src/storage/atomic.js';
import { buildStorage, type StorageBuild } from './fixtures/storage/build-storage.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes bytes and strings, creating parent directories', async () => {
    const a = path.join(dir, 'new', 'nested', 'a.bin');
    await writeFileAtomic(a, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(a))]).toEqual([1, 2, 3]);
    const b = path.join(dir, 'new', 'b.json');
    await writeFileAtomic(b, '{"ü": 1}\n');
    expect(await readFile(b, 'utf8')).toBe('{"ü": 1}\n');
    await writeFileAtomic(b, 'replaced');
    expect(await readFile(b, 'utf8')).toBe('replaced');
    expect((await readdir(path.join(dir, 'new'))).sort()).toEqual(['b.json', 'nested']);
  });

  it('fails with StorageError when the target directory is a file, creating nothing', async () => {
    const parent = path.join(dir, 'was-a-dir');
    await writeFile(parent, 'I am a file now');
    const err = await writeFileAtomic(path.join(parent, 'out.tif'), 'data').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).context.path).toBe(path.join(parent, 'out.tif'));
    expect(await readFile(parent, 'utf8')).toBe('I am a file now');
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('removes the temp file when the final rename fails (target is a non-empty directory)', async () => {
    const parent = path.join(dir, 'rename-fails');
    const target = path.join(parent, 'target');
    await mkdir(path.join(target, 'child'), { recursive: true });
    const err = await writeFileAtomic(target, new Uint8Array(4096)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toMatch(/atomic write failed/);
    expect(await readdir(parent)).toEqual(['target']);
  });

  it('keeps concurrent writers of one file from sharing a temp file', async () => {
    const file = path.join(dir, 'race.txt');
    await Promise.all(Array.from({ length: 32 }, (_, i) => writeFileAtomic(file, `writer ${i} `.repeat(1000))));
    expect(await readFile(file, 'utf8')).toMatch(/^(writer \d+ )+$/);
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/\.tmp$/));
  });

  it.skipIf(process.platform !== 'linux')('names temp files so tempFileOwner can tell which process left them', async () => {
    // The temp file exists only for an instant; inotify reports its creation reliably.
    const parent = path.join(dir, 'owner');
    await mkdir(parent);
    const watcher = watch(parent);
    const tempSeen = new Promise<string>((resolve) => watcher.on('change', (_, name) => String(name).endsWith('.tmp') && resolve(String(name))));
    await writeFileAtomic(path.join(parent, 'out.json'), '{}');
    const temp = await tempSeen;
    watcher.close();
    expect(tempFileOwner(temp)).toBe(process.pid);
    expect(tempFileOwner('out.json')).toBeUndefined();
    expect(tempFileOwner('.x.tif.12.0.abc.tmp')).toBeUndefined();
  });

  it('never lets a reader see a partial file', async () => {
    const file = path.join(dir, 'big.bin');
    const size = 1 << 21;
    const versions = [1, 2, 3, 4].map((v) => new Uint8Array(size).fill(v));
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 12; round++) await writeFileAtomic(file, versions[round % versions.length]!);
      writing = false;
    })();
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // before the first rename
          throw err;
        }
        reads++;
        expect(bytes.length).toBe(size);
        const first = bytes[0]!;
        expect(bytes.every((b) => b === first)).toBe(true);
      }
    })();
    await Promise.all([writer, reader]);
    expect(reads).toBeGreaterThan(0);
  });
});

// A write that fails half-way: a child process limited by RLIMIT_FSIZE gets EFBIG from write(2)
// (Node ignores SIGXFSZ), after the temp file exists and holds part of the data.
describe.skipIf(process.platform !== 'linux')('a write that fails part-way', () => {
  let build: StorageBuild;
  beforeAll(async () => {
    build = await buildStorage();
  });
  afterAll(async () => {
    await build?.cleanup();
  });

  it('leaves neither the target nor a temp file, and reports StorageError', async () => {
    const parent = path.join(dir, 'efbig');
    await mkdir(parent);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'storage', 'atomic-writer.mjs');
    const { stdout } = await promisify(execFile)('/bin/sh', [
      '-c',
      'ulimit -f 64 && exec "$0" "$@"', // 64 KiB
      process.execPath,
      script,
      build.storageDir,
      path.join(parent, 'out.bin'),
      String(1 << 20),
    ]);
    const result = JSON.parse(stdout) as { ok: boolean; code?: string; cause?: string };
    expect(result).toMatchObject({ ok: false, code: 'E_STORAGE_IO', cause: 'EFBIG' });
    expect(await readdir(parent)).toEqual([]);
  });
});
