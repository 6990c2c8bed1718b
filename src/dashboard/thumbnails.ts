/**
 * Thumbnails and full-size planes as PNG, rendered on demand by the dashboard's own thread (never
 * by a worker, so the run's tasks do not wait for them) and kept in a cache bounded by bytes.
 * Renders go one at a time: a page asking for 40 thumbnails at once must not hold the event loop
 * (and with it the run's coordination) for 40 decodes in a row without a break.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { readTiff } from '../storage/tiff-read.js';
import { percentiles, renderPlane, type Stretch } from './contrast.js';
import { encodeGreyPng } from './png.js';

export interface ThumbnailRequest {
  /** An absolute path the caller has already checked (see image-path.ts). */
  readonly file: string;
  /** Plane of a multi-page file. @defaultValue 0 */
  readonly plane: number;
  readonly stretch: Stretch;
  /** Longer side in pixels; 0 = full size. */
  readonly maxSide: number;
}

export interface RenderedImage {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
  /** Pixel values mapped to 0 and 255. */
  readonly lo: number;
  readonly hi: number;
}

/** @defaultValue 64 MiB of PNGs */
const CACHE_BYTES = 64 * 1024 * 1024;

export class ThumbnailCache {
  readonly #cache = new Map<string, RenderedImage>();
  readonly #limit: number;
  #bytes = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(limitBytes = CACHE_BYTES) {
    this.#limit = limitBytes;
  }

  /**
   * The PNG for `request`; a file rewritten since (new mtime or size) is rendered again.
   * @throws what readTiff throws (E_NOT_FOUND, E_TIFF_INVALID, E_STORAGE_IO); RangeError for a plane the file lacks
   */
  async render(request: ThumbnailRequest): Promise<RenderedImage> {
    const info = await stat(request.file);
    const key = JSON.stringify([request.file, info.mtimeMs, info.size, request.plane, request.stretch.low, request.stretch.high, request.maxSide]);
    const hit = this.#cache.get(key);
    if (hit) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit;
    }
    const rendered = this.#queue.then(() => renderFile(request));
    this.#queue = rendered.catch(() => undefined);
    const image = await rendered;
    this.#cache.set(key, image);
    this.#bytes += image.png.length;
    for (const [k, v] of this.#cache) {
      if (this.#bytes <= this.#limit || k === key) break;
      this.#cache.delete(k);
      this.#bytes -= v.png.length;
    }
    return image;
  }
}

async function renderFile(request: ThumbnailRequest): Promise<RenderedImage> {
  const stack = await readTiff(request.file);
  const [planes, height, width] = stack.shape;
  if (!Number.isInteger(request.plane) || request.plane < 0 || request.plane >= planes) throw new RangeError(`${request.file} has ${planes} plane(s); plane ${request.plane} does not exist`);
  const data = stack.data.subarray(request.plane * width * height, (request.plane + 1) * width * height);
  const range = percentiles(data, request.stretch);
  const out = renderPlane(data, width, height, range, request.maxSide > 0 ? request.maxSide : Math.max(width, height));
  return { png: encodeGreyPng(out.pixels, out.width, out.height), width: out.width, height: out.height, ...range };
}
