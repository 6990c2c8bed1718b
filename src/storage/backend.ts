import { readdir } from 'node:fs/promises';
import { PlateflowError, StorageError } from '../errors.js';
import type { DType, ImageStack, PixelArray } from '../image.js';
import type { AtomicWriteBatch } from './atomic.js';
import type { SampleChoice } from './tiff-samples.js';

/**
 * The one interface every storage backend implements, so a step reads and writes images the same
 * way whether they live on disk or only in this task's memory.
 *
 * @module
 */

export type BackendKind = 'disk' | 'memory' | 'zarr';

export interface LoadOptions {
  readonly signal?: AbortSignal;
  /**
   * One plane of an item that holds many, for backends that can read a plane alone: the zarr
   * backend returns just that plane ([1, h, w]) of an array. Disk and memory ignore it and return
   * the whole stack (a caller slices multi-page TIFFs itself).
   */
  readonly page?: number;
  /** Disk only: the sample of a multi-sample TIFF to read (see `ReadTiffOptions.sample`). */
  readonly sample?: SampleChoice;
  /**
   * Disk only: read the file into this buffer (grown when too small) instead of a fresh one. The
   * returned stack may then be a view of `readBuffer.bytes`, valid only until the next load with
   * the same buffer, so the caller copies what it keeps. A fresh 512 KiB buffer per image costs
   * more in page faults than reading the file does.
   */
  readonly readBuffer?: ReadBuffer;
  /**
   * Disk only, with `readBuffer`: where the caller wants the pixels (a stack it assembles). Asked
   * with the file's dtype and shape when the file needs no decoding (uncompressed, one sample per
   * pixel, the host's byte order, stored in one run); the pixels are then read from the file
   * straight into `data` from element `offset`, and the stack returned is a view of that place.
   * Otherwise, or when it answers `undefined`, the load proceeds as without it.
   */
  readonly into?: PixelDestination;
}

/** See `LoadOptions.into`. */
export type PixelDestination = (dtype: DType, shape: readonly [number, number, number]) => { readonly data: PixelArray; readonly offset: number } | undefined;

export interface SaveOptions {
  readonly signal?: AbortSignal;
  /** Disk: stage the file in the caller's batch; it appears under its name when the caller commits. */
  readonly batch?: AtomicWriteBatch;
}

/** A reusable destination for file reads (see `LoadOptions.readBuffer`). */
export interface ReadBuffer {
  bytes: Uint8Array;
}

export interface StorageBackend {
  readonly kind: BackendKind;
  /**
   * The stack stored at `path`.
   * @throws PlateflowError `E_NOT_FOUND` (with `context.path`) when nothing is stored there.
   */
  load(path: string, opts?: LoadOptions): Promise<ImageStack>;
  /** Store `stack` at `path`, replacing what was there. */
  save(path: string, stack: ImageStack, opts?: SaveOptions): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Names directly inside `dir` (files and sub-directories), sorted by code unit; [] if `dir` is absent. */
  list(dir: string): Promise<string[]>;
  /** Remove `path`; removing something absent is not an error. */
  delete(path: string): Promise<void>;
  /** Release what the backend holds. Idempotent; later calls on the backend fail with `E_STORAGE_IO`. */
  close(): Promise<void>;
}

/** The `E_NOT_FOUND` error every backend throws for a missing item, so callers test one code. */
export function notFound(path: string, cause?: unknown): PlateflowError {
  return new PlateflowError('E_NOT_FOUND', `${path}: not found`, { path }, cause === undefined ? undefined : { cause });
}

/** Code-unit order: the same on every machine and locale, for both backends. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `list` for backends that live in directories: sorted names, [] for a missing directory. */
export async function listDirectory(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort(compareNames);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StorageError(dir, `cannot list: ${(err as Error).message}`, { cause: err });
  }
}
