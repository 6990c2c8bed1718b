import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, isPlateflowError, PlateflowError, StorageError } from '../src/errors.js';
import { createStack, DTYPES, type ImageStack } from '../src/image.js';
import type { LoadOptions, StorageBackend } from '../src/storage/backend.js';
import { DiskBackend } from '../src/storage/disk-backend.js';
import { FileManager } from '../src/storage/file-manager.js';
import { MemoryBackend } from '../src/storage/memory-backend.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-backends-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ramp(dtype: (typeof DTYPES)[number], planes = 2, h = 3, w = 4): ImageStack {
  const stack = createStack(dtype, planes, h, w);
  stack.data.forEach((_, i) => (stack.data[i] = dtype === 'int32' ? -i * 1001 : dtype === 'float32' ? i / 8 : i * 7));
  return stack;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (e: unknown) => e);
}

// One conformance suite, every backend: the same calls must mean the same thing.
describe.each([
  ['disk', () => new DiskBackend(), (p: string) => path.join(dir, 'conformance', p)],
  ['memory', () => new MemoryBackend(), (p: string) => `/plate/out/${p}`],
] as const)('%s backend conformance', (kind, make, at) => {
  it('reports its kind', () => {
    expect(make().kind).toBe(kind);
  });

  it.each(DTYPES)('save → load round trip keeps %s values, dtype and shape', async (dtype) => {
    const backend = make();
    const stack = ramp(dtype);
    await backend.save(at(`rt/${dtype}.tif`), stack);
    const back = await backend.load(at(`rt/${dtype}.tif`));
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(stack.data));
  });

  it('exists, list (sorted, direct children only, [] when absent) and delete', async () => {
    const backend = make();
    const base = at('listing');
    for (const name of ['b.tif', 'a10.tif', 'a2.tif', 'sub/c.tif', 'sub/deeper/d.tif']) await backend.save(`${base}/${name}`, ramp('uint8', 1, 1, 1));
    expect(await backend.list(base)).toEqual(['a10.tif', 'a2.tif', 'b.tif', 'sub']);
    expect(await backend.list(`${base}/sub`)).toEqual(['c.tif', 'deeper']);
    expect(await backend.list(`${base}/nothing-here`)).toEqual([]);
    expect(await backend.exists(`${base}/a2.tif`)).toBe(true);
    expect(await backend.exists(`${base}/sub`)).toBe(true);
    expect(await backend.exists(`${base}/zzz.tif`)).toBe(false);
    await backend.delete(`${base}/a2.tif`);
    await backend.delete(`${base}/a2.tif`); // absent: not an error
    expect(await backend.exists(`${base}/a2.tif`)).toBe(false);
    expect(await backend.list(base)).toEqual(['a10.tif', 'b.tif', 'sub']);
  });

  it('save replaces what was stored', async () => {
    const backend = make();
    await backend.save(at('replace.tif'), ramp('uint16'));
    await backend.save(at('replace.tif'), ramp('float32', 1, 2, 2));
    expect((await backend.load(at('replace.tif'))).shape).toEqual([1, 2, 2]);
  });

  it('load of a missing path → E_NOT_FOUND with the path', async () => {
    const err = await errorOf(make().load(at('missing.tif')));
    expect(isPlateflowError(err, 'E_NOT_FOUND')).toBe(true);
    expect((err as PlateflowError).context.path).toBe(at('missing.tif'));
  });

  it('load with an aborted signal → E_ABORTED', async () => {
    const backend = make();
    await backend.save(at('abort.tif'), ramp('uint8'));
    const err = await errorOf(backend.load(at('abort.tif'), { signal: AbortSignal.abort('stop') }));
    expect(err).toBeInstanceOf(AbortError);
  });

  it('close is idempotent and later calls fail with E_STORAGE_IO', async () => {
    const backend = make();
    await backend.close();
    await backend.close();
    expect(isPlateflowError(await errorOf(backend.save(at('closed.tif'), ramp('uint8'))), 'E_STORAGE_IO')).toBe(true);
    expect(isPlateflowError(await errorOf(backend.load(at('closed.tif'))), 'E_STORAGE_IO')).toBe(true);
  });
});

describe('MemoryBackend specifics', () => {
  it('stores and returns the very stack it was given (no copy), under normalized paths', async () => {
    const backend = new MemoryBackend();
    const stack = ramp('uint16');
    await backend.save('/p//out/./A01.tif', stack);
    expect(await backend.load('/p/out/A01.tif')).toBe(stack);
    expect(await backend.list('/p/out/')).toEqual(['A01.tif']);
  });

  it('frees its entries on close', async () => {
    const backend = new MemoryBackend();
    await backend.save('/a.tif', ramp('uint8'));
    expect(backend.size).toBe(1);
    await backend.close();
    expect(backend.size).toBe(0);
  });
});

describe('DiskBackend specifics', () => {
  it('rejects relative paths instead of resolving them against the working directory', async () => {
    const err = await errorOf(new DiskBackend().save('out/a.tif', ramp('uint8')));
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toMatch(/must be absolute/);
  });
});

/** Wraps a backend and records what each call received (the signal in particular). */
class RecordingBackend implements StorageBackend {
  readonly calls: { op: string; path: string; signal?: AbortSignal }[] = [];
  readonly kind;
  constructor(private readonly inner: StorageBackend) {
    this.kind = inner.kind;
  }
  load(p: string, opts: LoadOptions = {}): Promise<ImageStack> {
    this.calls.push({ op: 'load', path: p, ...(opts.signal ? { signal: opts.signal } : {}) });
    return this.inner.load(p, opts);
  }
  save(p: string, stack: ImageStack): Promise<void> {
    this.calls.push({ op: 'save', path: p });
    return this.inner.save(p, stack);
  }
  exists(p: string): Promise<boolean> {
    return this.inner.exists(p);
  }
  list(d: string): Promise<string[]> {
    return this.inner.list(d);
  }
  delete(p: string): Promise<void> {
    return this.inner.delete(p);
  }
  close(): Promise<void> {
    this.calls.push({ op: 'close', path: '' });
    return this.inner.close();
  }
}

describe('FileManager', () => {
  it('gives every manager its own backends: memory entries are never shared', async () => {
    const a = new FileManager();
    const b = new FileManager();
    expect(a.backend('memory')).not.toBe(b.backend('memory'));
    expect(a.backend('disk')).not.toBe(b.backend('disk'));
    await a.save('memory', '/plate/out/A01.tif', ramp('uint16'));
    expect(await a.exists('memory', '/plate/out/A01.tif')).toBe(true);
    expect(await b.exists('memory', '/plate/out/A01.tif')).toBe(false);
    expect(await b.list('memory', '/plate/out')).toEqual([]);
    expect(isPlateflowError(await errorOf(b.load('memory', '/plate/out/A01.tif')), 'E_NOT_FOUND')).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('reads and writes both backends', async () => {
    const files = new FileManager();
    const file = path.join(dir, 'fm', 'B03.tif');
    await files.save('disk', file, ramp('float32'));
    expect(await files.list('disk', path.dirname(file))).toEqual(['B03.tif']);
    expect(Array.from((await files.load('disk', file)).data)).toEqual(Array.from(ramp('float32').data));
    await files.delete('disk', file);
    expect(await files.exists('disk', file)).toBe(false);
    await files.close();
  });

  it('close() is idempotent, frees memory entries, and later calls fail', async () => {
    let memory: MemoryBackend | undefined;
    const files = new FileManager({ backends: { memory: () => (memory = new MemoryBackend()) } });
    await files.save('memory', '/x.tif', ramp('uint8'));
    const first = files.close();
    expect(files.close()).toBe(first);
    await first;
    expect(memory!.size).toBe(0);
    expect(files.closed).toBe(true);
    expect(await errorOf(files.save('memory', '/x.tif', ramp('uint8')))).toBeInstanceOf(StorageError);
  });

  it('closes every backend even when one fails, then reports the failure', async () => {
    const disk = new RecordingBackend(new DiskBackend());
    const failing = new MemoryBackend();
    failing.close = () => Promise.reject(new Error('memory close failed'));
    const files = new FileManager({ backends: { memory: () => failing, disk: () => disk } });
    await expect(files.close()).rejects.toThrow('memory close failed');
    expect(disk.calls.map((c) => c.op)).toEqual(['close']);
  });

  it('checks the abort signal before each load and save, without touching the backend', async () => {
    const memory = new RecordingBackend(new MemoryBackend());
    const controller = new AbortController();
    const files = new FileManager({ signal: controller.signal, backends: { memory: () => memory } });
    await files.save('memory', '/a.tif', ramp('uint8'));
    controller.abort(new Error('cancelled by user'));
    const loadErr = await errorOf(files.load('memory', '/a.tif'));
    const saveErr = await errorOf(files.save('memory', '/b.tif', ramp('uint8')));
    for (const err of [loadErr, saveErr]) {
      expect(err).toBeInstanceOf(AbortError);
      expect((err as AbortError).cause).toBe(controller.signal.reason);
    }
    expect(memory.calls.map((c) => c.op)).toEqual(['save']);
  });

  it('threads the manager and call signals down to the backend as one signal', async () => {
    const memory = new RecordingBackend(new MemoryBackend());
    const managerAbort = new AbortController();
    const callAbort = new AbortController();
    const files = new FileManager({ signal: managerAbort.signal, backends: { memory: () => memory } });
    await files.save('memory', '/a.tif', ramp('uint8'));
    await files.load('memory', '/a.tif', { signal: callAbort.signal });
    const received = memory.calls.find((c) => c.op === 'load')!.signal!;
    expect(received.aborted).toBe(false);
    callAbort.abort();
    expect(received.aborted).toBe(true);
    await files.close();
  });

  it('a per-call signal alone is aborted too', async () => {
    const files = new FileManager();
    await files.save('memory', '/a.tif', ramp('uint8'));
    expect(await errorOf(files.load('memory', '/a.tif', { signal: AbortSignal.abort() }))).toBeInstanceOf(AbortError);
    await files.close();
  });
});
