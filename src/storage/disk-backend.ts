import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../errors.js';
import type { ImageStack } from '../image.js';
import { listDirectory, type LoadOptions, type SaveOptions, type StorageBackend } from './backend.js';
import { readTiff } from './tiff-read.js';
import { writeTiff } from './tiff-write.js';

/**
 * TIFF files on a local or shared filesystem. Paths are absolute (the compiler resolves them
 * against the plate and output roots, and checks them there); a relative path here is a bug,
 * since it would silently depend on the worker's working directory.
 */
export class DiskBackend implements StorageBackend {
  readonly kind = 'disk' as const;
  #closed = false;

  async load(p: string, opts: LoadOptions = {}): Promise<ImageStack> {
    this.#check(p);
    return readTiff(p, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.readBuffer ? { readBuffer: opts.readBuffer } : {}),
      ...(opts.into ? { into: opts.into } : {}),
      ...(opts.sample !== undefined ? { sample: opts.sample } : {}),
    });
  }

  async save(p: string, stack: ImageStack, opts: SaveOptions = {}): Promise<void> {
    this.#check(p);
    await writeTiff(p, stack, opts.batch ? { batch: opts.batch } : {});
  }

  async exists(p: string): Promise<boolean> {
    this.#check(p);
    try {
      await stat(p);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StorageError(p, `cannot stat: ${(err as Error).message}`, { cause: err });
    }
  }

  async list(dir: string): Promise<string[]> {
    this.#check(dir);
    return listDirectory(dir);
  }

  async delete(p: string): Promise<void> {
    this.#check(p);
    try {
      await rm(p, { force: true });
    } catch (err) {
      throw new StorageError(p, `cannot delete: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(p: string): void {
    if (this.#closed) throw new StorageError(p, 'disk backend is closed');
    if (!path.isAbsolute(p)) throw new StorageError(p, 'disk backend paths must be absolute');
  }
}
