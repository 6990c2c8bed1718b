import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ReadBuffer } from './backend.js';
import { AbortError, PlateflowError, StorageError, TiffError } from '../errors.js';
import { allocate, bytesPerPixel, viewOf, type DType, type ImageStack, type PixelArray } from '../image.js';
import { COMPRESSION, FAST_COMPRESSIONS, decodeStrip, undoHorizontalPredictor } from './tiff-codecs.js';
import { decodeWithGeotiff } from './tiff-fallback.js';
import { SUPPORTED_LAYOUTS, describeSamples, dtypeFor, parseTiffLayout, type TiffPage } from './tiff-ifd.js';

/**
 * TIFF reading: a fast path for the strip-based grayscale files microscopes and plateflow itself
 * write, and geotiff for everything else (tiles, BigTIFF, JPEG/LZMA/…, floating-point predictor).
 *
 * The fast path matters because a plate is read file by file: geotiff spends ~5 ms on a 512²
 * uint16 plane, mostly per-pixel work, while an uncompressed little-endian file is already the
 * array we want. Such a file is returned as a view over the file's bytes (or after one memcpy when
 * the data offset is misaligned for the element size); no JavaScript loop touches the pixels.
 *
 * @module
 */

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface ReadTiffOptions {
  readonly signal?: AbortSignal;
}

/**
 * Decode a whole TIFF into one stack: every full-resolution page is a plane (pyramid levels and
 * thumbnails marked by NewSubfileType are skipped).
 *
 * The result may be a view over `bytes` (zero copy): do not reuse `bytes` while the stack is alive.
 *
 * @param file used in error messages only.
 * @throws TiffError (`E_TIFF_INVALID`) for an empty, truncated or non-TIFF input, pages that differ
 *   in size or dtype, a sample layout plateflow has no dtype for (RGB, int16, float64…), or data
 *   that fails to decompress. Never a bare `RangeError`.
 * @throws AbortError (`E_ABORTED`) when `signal` is aborted (checked before decoding).
 */
export async function decodeTiff(bytes: Uint8Array, file: string, opts: ReadTiffOptions = {}): Promise<ImageStack> {
  throwIfAborted(opts.signal);
  try {
    const layout = parseTiffLayout(bytes, file);
    if (layout.kind === 'classic') {
      const pages = planePages(layout.pages, file);
      if (pages.every(isFastPage)) return decodeStrips(bytes, pages, layout.littleEndian, file);
    }
    return await decodeWithGeotiff(bytes, file, opts.signal);
  } catch (err) {
    if (err instanceof PlateflowError) throw err;
    // Anything else is a decoder tripping over bad data; keep it as the cause.
    throw new TiffError(file, `cannot decode: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Read and decode a TIFF file.
 *
 * @throws PlateflowError `E_NOT_FOUND` (with `context.path`) when the file does not exist.
 * @throws StorageError (`E_STORAGE_IO`) for other I/O failures.
 * @throws TiffError, AbortError as for `decodeTiff`.
 */
export async function readTiff(file: string, opts: ReadTiffOptions & { readonly readBuffer?: ReadBuffer } = {}): Promise<ImageStack> {
  throwIfAborted(opts.signal);
  const bytes = await readWholeFile(file, opts.readBuffer);
  return decodeTiff(bytes, file, opts);
}

/**
 * Read into a buffer we allocate ourselves: the returned stack may be a view over it, and a
 * caller may transfer that buffer to a worker, which must never detach memory shared with
 * unrelated Buffers (Node's small-Buffer pool).
 */
async function readWholeFile(file: string, reuse?: ReadBuffer): Promise<Uint8Array> {
  if (reuse) return readIntoSync(file, reuse);
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break; // shrank while we read: decode what is there, it reports truncation
      filled += bytesRead;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } catch (err) {
    throw readFailure(file, err);
  } finally {
    await handle?.close();
  }
}

/**
 * The hot path of a task reading its inputs: synchronous calls into a reused buffer. Each async
 * fs call is a round trip through libuv's pool; for a 512 KiB file in the page cache the four of
 * them (open, stat, read, close) took 3x longer than the blocking read, and a task's thread has
 * nothing else to do while it waits for its own input (writes still complete in the background).
 */
function readIntoSync(file: string, reuse: ReadBuffer): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    if (reuse.bytes.byteLength < size) reuse.bytes = new Uint8Array(size);
    const bytes = reuse.bytes.subarray(0, size);
    let filled = 0;
    while (filled < size) {
      const n = readSync(fd, bytes, filled, size - filled, filled);
      if (n === 0) break; // shrank while we read: decode what is there, it reports truncation
      filled += n;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } catch (err) {
    throw readFailure(file, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A missing file is `E_NOT_FOUND` (callers may treat it as absent); anything else is an I/O fault. */
function readFailure(file: string, err: unknown): PlateflowError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new PlateflowError('E_NOT_FOUND', `${file}: no such file`, { path: file }, { cause: err });
  return new StorageError(file, `cannot read: ${(err as Error).message}`, { cause: err });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason);
}

/** Full-resolution pages, checked to share one size and one representable dtype. */
function planePages(all: readonly TiffPage[], file: string): TiffPage[] {
  const pages = all.filter((p) => !p.reducedResolution);
  if (pages.length === 0) throw new TiffError(file, 'no full-resolution image in file (all pages are reduced-resolution)');
  const head = pages[0]!;
  const headDtype = checkedDtype(head, file);
  for (const p of pages) {
    const dtype = checkedDtype(p, file);
    if (p.width !== head.width || p.height !== head.height || dtype !== headDtype) {
      throw new TiffError(
        file,
        `page ${p.index} is ${p.width}×${p.height} ${dtype} but page ${head.index} is ${head.width}×${head.height} ${headDtype}; all pages must share size and dtype`,
      );
    }
  }
  return pages;
}

function checkedDtype(p: TiffPage, file: string): DType {
  const dtype = p.samplesPerPixel === 1 ? dtypeFor(p.bitsPerSample, p.sampleFormat) : undefined;
  if (dtype === undefined) {
    throw new TiffError(
      file,
      `unsupported sample layout: page ${p.index} is ${describeSamples(p.bitsPerSample, p.sampleFormat, p.samplesPerPixel)} (${SUPPORTED_LAYOUTS})`,
    );
  }
  return dtype;
}

function isFastPage(p: TiffPage): boolean {
  if (p.tiled || p.stripOffsets === undefined || p.fillOrder !== 1) return false;
  if (!FAST_COMPRESSIONS.has(p.compression)) return false;
  if (p.compression !== COMPRESSION.none && p.stripByteCounts === undefined) return false;
  // Predictor 2 on floats is not valid TIFF; predictor 3 (floating point) is left to geotiff.
  if (p.predictor === 2) return p.sampleFormat !== 3;
  return p.predictor === 1;
}

interface Strip {
  readonly page: TiffPage;
  readonly index: number;
  /** Where the strip's bytes are in the file, and how many to read. */
  readonly srcStart: number;
  readonly srcLength: number;
  /** Where its decoded bytes go in the stack, and how many there must be. */
  readonly dstStart: number;
  readonly dstLength: number;
}

function decodeStrips(bytes: Uint8Array, pages: readonly TiffPage[], littleEndian: boolean, file: string): ImageStack {
  const head = pages[0]!;
  const dtype = dtypeFor(head.bitsPerSample, head.sampleFormat)!;
  const bpp = bytesPerPixel(dtype);
  const { width, height } = head;
  const planePixels = width * height;
  const totalPixels = planePixels * pages.length;
  const strips = planStrips(bytes.byteLength, pages, bpp, file);
  const shape = [pages.length, height, width] as const;
  const swap = bpp > 1 && littleEndian !== HOST_LITTLE_ENDIAN;

  if (!swap && pages.every((p) => p.compression === COMPRESSION.none && p.predictor === 1) && isContiguous(strips)) {
    const start = strips[0]!.srcStart;
    const absolute = bytes.byteOffset + start;
    if (absolute % bpp === 0) return { dtype, shape, data: viewOf(dtype, bytes.buffer, absolute, totalPixels) };
    const aligned = new Uint8Array(totalPixels * bpp);
    aligned.set(bytes.subarray(start, start + aligned.byteLength));
    return { dtype, shape, data: viewOf(dtype, aligned.buffer, 0, totalPixels) };
  }

  const data = allocateOrFail(dtype, totalPixels, file);
  const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (const s of strips) {
    const src = bytes.subarray(s.srcStart, s.srcStart + s.srcLength);
    const dst = out.subarray(s.dstStart, s.dstStart + s.dstLength);
    let produced: number;
    try {
      produced = decodeStrip(s.page.compression, src, dst);
    } catch (err) {
      throw new TiffError(file, `${stripName(s, pages.length)}: ${(err as Error).message}`, { cause: err });
    }
    if (produced < s.dstLength) {
      throw new TiffError(file, `${stripName(s, pages.length)} decodes to ${produced} bytes, expected ${s.dstLength}`);
    }
  }
  // Byte order is fixed once for the whole stack with Node's native swap, not per pixel in JS.
  if (swap) {
    const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    if (bpp === 2) buf.swap16();
    else buf.swap32();
  }
  pages.forEach((p, i) => {
    if (p.predictor === 2) undoHorizontalPredictor(data.subarray(i * planePixels, (i + 1) * planePixels), width, height);
  });
  return { dtype, shape, data };
}

/** Every strip of every page with its source and destination ranges, bounds-checked. */
function planStrips(fileSize: number, pages: readonly TiffPage[], bpp: number, file: string): Strip[] {
  const strips: Strip[] = [];
  pages.forEach((page, pageNo) => {
    const rowBytes = page.width * bpp;
    const count = Math.ceil(page.height / page.rowsPerStrip);
    const offsets = page.stripOffsets!;
    const counts = page.stripByteCounts;
    if (offsets.length < count || (counts !== undefined && counts.length < count)) {
      throw new TiffError(file, `page ${page.index} needs ${count} strips but lists ${Math.min(offsets.length, counts?.length ?? Infinity)}`);
    }
    for (let i = 0; i < count; i++) {
      const rows = Math.min(page.rowsPerStrip, page.height - i * page.rowsPerStrip);
      const dstLength = rows * rowBytes;
      // Uncompressed strips are read at their true size: some writers pad StripByteCounts.
      const srcLength = page.compression === COMPRESSION.none ? dstLength : counts![i]!;
      const s: Strip = {
        page,
        index: i,
        srcStart: offsets[i]!,
        srcLength,
        dstStart: pageNo * page.height * rowBytes + i * page.rowsPerStrip * rowBytes,
        dstLength,
      };
      const end = s.srcStart + srcLength;
      if (end > fileSize) {
        throw new TiffError(file, `truncated: ${stripName(s, pages.length)} ends at byte ${end} but the file has ${fileSize} bytes`);
      }
      // Refuse before allocating: a corrupt size field must not make us reserve gigabytes.
      const ratio = MAX_RATIO[page.compression] ?? 1;
      if (dstLength > srcLength * ratio + 4096) {
        throw new TiffError(file, `corrupt: ${stripName(s, pages.length)} has ${srcLength} compressed bytes, too few for the ${dstLength} bytes it should decode to`);
      }
      strips.push(s);
    }
  });
  return strips;
}

/**
 * Upper bounds on decoded ÷ compressed size: deflate ≈ 1032:1, PackBits 128 bytes from 2, LZW at
 * most 4095 bytes from one 12-bit code. Uncompressed strips are checked against the file size.
 */
const MAX_RATIO: Readonly<Record<number, number>> = {
  [COMPRESSION.none]: 1,
  [COMPRESSION.deflate]: 1100,
  [COMPRESSION.adobeDeflate]: 1100,
  [COMPRESSION.packbits]: 64,
  [COMPRESSION.lzw]: 2800,
};

/** True when all strips sit back to back in the file in stack order, so the stack is one slice. */
function isContiguous(strips: readonly Strip[]): boolean {
  let expected = strips[0]!.srcStart;
  for (const s of strips) {
    if (s.srcStart !== expected) return false;
    expected += s.srcLength;
  }
  return true;
}

function stripName(s: Strip, pageCount: number): string {
  return pageCount > 1 ? `strip ${s.index} of page ${s.page.index}` : `strip ${s.index}`;
}

function allocateOrFail(dtype: DType, length: number, file: string): PixelArray {
  try {
    return allocate(dtype, length);
  } catch (err) {
    throw new TiffError(file, `image too large to decode (${length} ${dtype} pixels)`, { cause: err });
  }
}
