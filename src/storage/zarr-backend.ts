/**
 * Images stored as planes of Zarr arrays — the storage behind OME-Zarr plates.
 *
 * A path names an array directory (absolute, like the disk backend's), e.g.
 * `/data/plate.zarr/A/1/0/0`. A *page* names one Y×X plane of it: the flat C-order index over the
 * leading dimensions, so for a TCZYX array page = (t·C + c)·Z + z. Discovery puts exactly that
 * pair in an `ImageRecord` (`path: 'A/1/0/0'`, `page`), so a pipeline reads one plane per record
 * without loading the whole position.
 *
 * Opened arrays are cached for the life of the backend. A backend belongs to one task's
 * FileManager, so the cache is dropped when the task ends (handles are per task, as the issue asks).
 *
 * @module
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../errors.js';
import { allocate, type ImageStack, type PixelArray } from '../image.js';
import { listDirectory, notFound, type LoadOptions, type SaveOptions, type StorageBackend } from './backend.js';
import { ZarrArray } from './zarr-array.js';
import { ZARR_JSON, ZARRAY } from './zarr-format.js';

/** `page`: one plane (flat index over the leading dimensions); all planes when absent. */
export type ZarrLoadOptions = LoadOptions;

export interface ZarrSaveOptions extends SaveOptions {
  /** Plane index of the stack's first plane. @defaultValue 0 */
  readonly page?: number;
}

export class ZarrBackend implements StorageBackend {
  readonly kind = 'zarr' as const;
  readonly #arrays = new Map<string, Promise<ZarrArray>>();
  #closed = false;

  /** The array at `p` (opened once per backend). @throws PlateflowError `E_NOT_FOUND` when there is none. */
  async array(p: string): Promise<ZarrArray> {
    this.#check(p);
    let pending = this.#arrays.get(p);
    if (!pending) {
      pending = (async () => {
        if (!(await this.exists(p))) throw notFound(p);
        return ZarrArray.open(p);
      })();
      this.#arrays.set(p, pending);
      pending.catch(() => this.#arrays.delete(p));
    }
    return pending;
  }

  /**
   * One plane ([1, h, w]) when `page` is given, else every plane ([planes, h, w]).
   * @throws PlateflowError `E_NOT_FOUND`; ZarrError `E_ZARR_INVALID`; AbortError `E_ABORTED`.
   */
  async load(p: string, opts: ZarrLoadOptions = {}): Promise<ImageStack> {
    const arr = await this.array(p);
    const signal = opts.signal ? { signal: opts.signal } : {};
    if (opts.page !== undefined) {
      const data = await arr.readPlane(arr.planeCoords(opts.page), signal);
      return { dtype: arr.dtype, shape: [1, arr.height, arr.width], data };
    }
    const size = arr.height * arr.width;
    const data = allocate(arr.dtype, arr.planeCount * size);
    for (let page = 0; page < arr.planeCount; page++) {
      (data as PixelArray).set((await arr.readPlane(arr.planeCoords(page), signal)) as never, page * size);
    }
    return { dtype: arr.dtype, shape: [arr.planeCount, arr.height, arr.width], data };
  }

  /**
   * Writes the stack's planes into the existing array at `p`, starting at plane `page`.
   * @throws PlateflowError `E_NOT_FOUND` when there is no array; ZarrError when shapes, dtype or
   *   codecs do not fit; StorageError on I/O failure.
   */
  async save(p: string, stack: ImageStack, opts: ZarrSaveOptions = {}): Promise<void> {
    const arr = await this.array(p);
    const [planes, h, w] = stack.shape;
    if (h !== arr.height || w !== arr.width || stack.dtype !== arr.dtype) {
      throw new StorageError(p, `cannot store a ${stack.dtype} ${h}×${w} stack in a ${arr.dtype} ${arr.height}×${arr.width} array`);
    }
    const first = opts.page ?? 0;
    for (let i = 0; i < planes; i++) {
      await arr.writePlane(arr.planeCoords(first + i), stack.data.subarray(i * h * w, (i + 1) * h * w) as PixelArray);
    }
  }

  async exists(p: string): Promise<boolean> {
    this.#check(p);
    for (const name of [ZARR_JSON, ZARRAY]) {
      try {
        if ((await stat(path.join(p, name))).isFile()) return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new StorageError(p, `cannot stat: ${(err as Error).message}`, { cause: err });
      }
    }
    return false;
  }

  async list(dir: string): Promise<string[]> {
    this.#check(dir);
    return listDirectory(dir);
  }

  /** Removes the array (or group) directory at `p`, chunks and all. */
  async delete(p: string): Promise<void> {
    this.#check(p);
    this.#arrays.delete(p);
    try {
      await rm(p, { recursive: true, force: true });
    } catch (err) {
      throw new StorageError(p, `cannot delete: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#arrays.clear();
  }

  #check(p: string): void {
    if (this.#closed) throw new StorageError(p, 'zarr backend is closed');
    if (!path.isAbsolute(p)) throw new StorageError(p, 'zarr backend paths must be absolute');
  }
}
