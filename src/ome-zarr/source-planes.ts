/**
 * Reading one plane of any discovered plate: a TIFF page on disk, or a plane of an OME-Zarr array.
 * Used by `convert`, which must read every format plateflow discovers.
 *
 * @module
 */
import path from 'node:path';
import { planeOf, type ImageStack } from '../image.js';
import { isOmeZarrFormat } from '../microscopes/ome-zarr.js';
import type { ImageRecord, PlateIndex } from '../microscopes/types.js';
import { resolveInside } from '../storage/safe-path.js';
import { readTiff } from '../storage/tiff-read.js';
import { ZarrBackend } from '../storage/zarr-backend.js';

export interface PlaneReader {
  /** The record's plane as a [1, h, w] stack. */
  read(record: ImageRecord, signal?: AbortSignal): Promise<ImageStack>;
  close(): Promise<void>;
}

/**
 * A reader for `plate`'s records. Multi-page TIFFs are read once per reader and kept until
 * `forget(path)` or `close()`, so a caller reading every page of a file decodes it once.
 */
export function planeReader(plate: PlateIndex): PlaneReader & { forget(relPath: string): void } {
  if (isOmeZarrFormat(plate.format)) {
    const zarr = new ZarrBackend();
    return {
      read: (record, signal) => zarr.load(resolveInside(plate.root, record.path), { ...(signal ? { signal } : {}), page: record.page ?? 0 }),
      forget: () => undefined,
      close: () => zarr.close(),
    };
  }
  const pages = new Map<string, Promise<ImageStack>>();
  return {
    async read(record, signal) {
      const file = resolveInside(plate.root, record.path);
      const opts = { ...(signal ? { signal } : {}), ...(record.sample !== undefined ? { sample: record.sample } : {}) };
      if (record.page === undefined) return readTiff(file, opts);
      let stack = pages.get(record.path);
      if (!stack) {
        stack = readTiff(file, opts);
        pages.set(record.path, stack);
        stack.catch(() => pages.delete(record.path));
      }
      const whole = await stack;
      return { dtype: whole.dtype, shape: [1, whole.shape[1], whole.shape[2]], data: planeOf(whole, record.page) };
    },
    forget: (relPath) => void pages.delete(relPath.split(path.sep).join('/')),
    close: async () => pages.clear(),
  };
}
