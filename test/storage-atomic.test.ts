import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { AtomicWriteBatch, tempFileOwner, writeFileAtomic } from '../src/storage/atomic.js';
import { hostTag } from '../src/storage/process-liveness.js';
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

  it.skipIf(process.platform !== 'linux')('names temp files so tempFileOwner can tell which process on which host left them', async () => {
    // The temp file exists only for an instant; inotify reports its creation reliably.
    const parent = path.join(dir, 'owner');
    await mkdir(parent);
    const watcher = watch(parent);
    const tempSeen = new Promise<string>((resolve) => watcher.on('change', (_, name) => String(name).endsWith('.tmp') && resolve(String(name))));
    await writeFileAtomic(path.join(parent, 'out.json'), '{}');
    const temp = await tempSeen;
    watcher.close();
    expect(tempFileOwner(temp)).toEqual({ pid: process.pid, host: hostTag() });
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

describe('AtomicWriteBatch', () => {
  it.each(['pool', 'blocking', 'none'] as const)('fsync %s: shows no staged file under its name before commit, and every file after', async (fsync) => {
    const parent = path.join(dir, `batch-${fsync}`);
    const batch = new AtomicWriteBatch({ fsync });
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) sizes.push(await batch.stage(path.join(parent, `f${i}.bin`), [new Uint8Array(10).fill(i), new Uint8Array(1000).fill(i)]));
    expect(sizes).toEqual([1010, 1010, 1010, 1010, 1010]);
    expect((await readdir(parent)).filter((n) => !n.endsWith('.tmp'))).toEqual([]);
    const placed = await batch.commit();
    expect([...placed].sort()).toEqual([0, 1, 2, 3, 4].map((i) => [path.join(parent, `f${i}.bin`), 1010]));
    expect((await readdir(parent)).sort()).toEqual(['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin', 'f4.bin']);
    expect([...(await readFile(path.join(parent, 'f3.bin')))].every((b) => b === 3)).toBe(true);
  });

  it('renames the oldest files early when more than maxStaged are open, still complete', async () => {
    const parent = path.join(dir, 'batch-bounded');
    const batch = new AtomicWriteBatch({ maxStaged: 2 });
    for (let i = 0; i < 5; i++) await batch.stage(path.join(parent, `f${i}.txt`), `file ${i}`);
    const early = (await readdir(parent)).filter((n) => !n.endsWith('.tmp')).sort();
    expect(early).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
    for (const name of early) expect(await readFile(path.join(parent, name), 'utf8')).toBe(`file ${name[1]}`);
    await batch.commit();
    expect(await readdir(parent)).toHaveLength(5);
  });

  it('abort leaves the targets as they were and removes every temp file', async () => {
    const parent = path.join(dir, 'batch-abort');
    await mkdir(parent);
    await writeFile(path.join(parent, 'kept.txt'), 'old');
    const batch = new AtomicWriteBatch();
    await batch.stage(path.join(parent, 'kept.txt'), 'new');
    await batch.stage(path.join(parent, 'never.txt'), 'never');
    batch.abort();
    expect(await readdir(parent)).toEqual(['kept.txt']);
    expect(await readFile(path.join(parent, 'kept.txt'), 'utf8')).toBe('old');
    await batch.commit(); // nothing left to commit
    expect(await readdir(parent)).toEqual(['kept.txt']);
  });

  it('fails commit with StorageError naming the file whose rename failed, and cleans up the rest', async () => {
    const parent = path.join(dir, 'batch-fail');
    await mkdir(path.join(parent, 'blocked', 'child'), { recursive: true });
    const batch = new AtomicWriteBatch();
    await batch.stage(path.join(parent, 'blocked'), 'cannot replace a non-empty directory');
    await batch.stage(path.join(parent, 'after.txt'), 'staged after the failing one');
    const err = await batch.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).context.path).toBe(path.join(parent, 'blocked'));
    expect((await readdir(parent)).sort()).toEqual(['blocked']);
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
