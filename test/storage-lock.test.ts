import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { tempFileOwner } from '../src/storage/atomic.js';
import { withFileLock } from '../src/storage/lock.js';
import { hostTag } from '../src/storage/process-liveness.js';
import { buildStorage, type StorageBuild } from './fixtures/storage/build-storage.js';
import { deadPid, spawnLive, spawnZombie, stop } from './fixtures/storage/processes.js';
import { runWriters } from './fixtures/storage/run-writers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A promise plus its resolver, to hold a lock exactly as long as a test wants. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('withFileLock in one process', () => {
  it('serialises concurrent async callers and returns their results', async () => {
    const lock = path.join(dir, 'serial.lock');
    let inside = 0;
    let maxInside = 0;
    let counter = 0;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        withFileLock(lock, async () => {
          maxInside = Math.max(maxInside, ++inside);
          const seen = counter;
          await new Promise((resolve) => setImmediate(resolve));
          counter = seen + 1;
          inside--;
          return i;
        }),
      ),
    );
    expect(counter).toBe(40);
    expect(maxInside).toBe(1);
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await readdir(dir)).not.toContain('serial.lock');
  });

  it('releases the lock when fn throws, and passes the error through unchanged', async () => {
    const lock = path.join(dir, 'throws.lock');
    const boom = new Error('boom');
    await expect(withFileLock(lock, async () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(withFileLock(lock, async () => 'next', { timeoutMs: 0 })).resolves.toBe('next');
  });

  it('times out with a StorageError naming the lock and its holder', async () => {
    const lock = path.join(dir, 'held.lock');
    const held = gate();
    const entered = gate();
    const holder = withFileLock(lock, async () => {
      entered.open();
      await held.promise;
    });
    await entered.promise;
    const err = await withFileLock(lock, async () => 'never', { timeoutMs: 30 }).catch((e: unknown) => e);
    held.open();
    await holder;
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).context.path).toBe(lock);
    expect((err as StorageError).message).toMatch(new RegExp(`timed out after 30 ms waiting for the lock \\(held by pid ${process.pid} on `));
  });

  it.skipIf(process.platform !== 'linux')('names its temp file like every temp file, so the sweep can attribute a leftover', async () => {
    // The temp file exists only for an instant; inotify reports its creation reliably.
    const parent = path.join(dir, 'temp-name');
    await mkdir(parent);
    const watcher = watch(parent);
    const tempSeen = new Promise<string>((resolve) => watcher.on('change', (_, name) => String(name).endsWith('.tmp') && resolve(String(name))));
    await withFileLock(path.join(parent, 'run.lock'), async () => undefined);
    const temp = await tempSeen;
    watcher.close();
    expect(temp.startsWith('.run.lock.')).toBe(true);
    expect(tempFileOwner(temp)).toEqual({ pid: process.pid, host: hostTag() });
  });

  it('creates missing parent directories of the lock', async () => {
    await expect(withFileLock(path.join(dir, 'a', 'b', 'deep.lock'), async () => 1)).resolves.toBe(1);
  });
});

describe('stale locks', () => {
  it('breaks a lock whose owner pid is dead on this host', async () => {
    const lock = path.join(dir, 'dead-owner.lock');
    const pid = await deadPid();
    await writeFile(lock, JSON.stringify({ pid, hostname: os.hostname(), token: 'old', acquiredAt: new Date().toISOString() }));
    await expect(withFileLock(lock, async () => 'got it', { timeoutMs: 5000 })).resolves.toBe('got it');
    expect(await readdir(dir)).not.toContain('dead-owner.lock');
  });

  it.skipIf(process.platform !== 'linux')('breaks a lock whose owner is a zombie, or whose pid now belongs to a process started after the lock was last touched', async () => {
    const [zombie, live] = await Promise.all([spawnZombie(), spawnLive()]);
    try {
      const lock = path.join(dir, 'zombie-owner.lock');
      await writeFile(lock, JSON.stringify({ pid: zombie.pid, hostname: os.hostname(), token: 'old', acquiredAt: new Date().toISOString() }));
      await expect(withFileLock(lock, async () => 'got it', { timeoutMs: 5000 })).resolves.toBe('got it');
      // The lock was touched an hour before the live process started: that process cannot hold it.
      await writeFile(lock, JSON.stringify({ pid: live.pid, hostname: os.hostname(), token: 'old', acquiredAt: new Date().toISOString() }));
      const past = new Date(Date.now() - 60 * 60_000);
      await utimes(lock, past, past);
      await expect(withFileLock(lock, async () => 'got it', { timeoutMs: 5000, staleMs: 24 * 60 * 60_000 })).resolves.toBe('got it');
      // Its own fresh lock is a live owner's.
      await writeFile(lock, JSON.stringify({ pid: live.pid, hostname: os.hostname(), token: 'live', acquiredAt: new Date().toISOString() }));
      await expect(withFileLock(lock, async () => 'no', { timeoutMs: 30 })).rejects.toThrow(new RegExp(`held by pid ${live.pid} on `));
    } finally {
      await Promise.all([stop(zombie.parent), stop(live)]);
    }
  });

  it('breaks a lock not touched for staleMs even if its pid is alive', async () => {
    const lock = path.join(dir, 'old.lock');
    await writeFile(lock, JSON.stringify({ pid: process.pid, hostname: os.hostname(), token: 'old', acquiredAt: '2020-01-01T00:00:00Z' }));
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    await expect(withFileLock(lock, async () => 'got it', { timeoutMs: 5000, staleMs: 10_000 })).resolves.toBe('got it');
  });

  it('does not break a fresh lock of a live owner, even one on another host', async () => {
    const lock = path.join(dir, 'other-host.lock');
    await writeFile(lock, JSON.stringify({ pid: 1, hostname: 'some-other-host', token: 'x', acquiredAt: new Date().toISOString() }));
    await expect(withFileLock(lock, async () => 'no', { timeoutMs: 30 })).rejects.toThrow(/held by pid 1 on some-other-host/);
    // An unreadable lock file is only broken by age too.
    await writeFile(lock, 'garbage');
    await expect(withFileLock(lock, async () => 'no', { timeoutMs: 30 })).rejects.toThrow(/held by an unknown owner/);
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    await expect(withFileLock(lock, async () => 'yes', { timeoutMs: 5000, staleMs: 10_000 })).resolves.toBe('yes');
  });

  it('keeps a long-held lock fresh (heartbeat), so waiters do not break it', async () => {
    const lock = path.join(dir, 'heartbeat.lock');
    const staleMs = 500;
    const held = gate();
    const entered = gate();
    let broken = false;
    const holder = withFileLock(
      lock,
      async () => {
        entered.open();
        await held.promise;
      },
      { staleMs },
    );
    await entered.promise;
    // This waiter polls for 3 × staleMs; without the heartbeat it would judge the lock stale.
    await withFileLock(lock, async () => (broken = true), { staleMs, timeoutMs: 3 * staleMs }).catch(() => undefined);
    held.open();
    await holder;
    expect(broken).toBe(false);
  });
});

describe('withFileLock across processes and worker threads', () => {
  let build: StorageBuild;
  beforeAll(async () => {
    build = await buildStorage();
  });
  afterAll(async () => {
    await build?.cleanup();
  });

  it('loses no increment with 6 child processes and 3 worker threads', async () => {
    const counter = path.join(dir, 'counter.txt');
    await runWriters(build.storageDir, 'counter', counter, { processes: 6, threads: 3, count: 20 });
    expect(Number(await readFile(counter, 'utf8'))).toBe(9 * 20);
    expect((await readdir(dir)).filter((n) => n.startsWith('counter.txt.lock'))).toEqual([]);
  });
});
