import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { PixelDestination, ReadBuffer } from './backend.js';
import { AbortError, PlateflowError, StorageError, TiffError } from '../errors.js';
import { bytesPerPixel, viewOf, type DType, type ImageStack } from '../image.js';
import { decodeBlock, planBlocks, type Block } from './tiff-blocks.js';
import { COMPRESSION, describeCompression, FAST_COMPRESSIONS, isReadableCompression, READABLE_COMPRESSIONS } from './tiff-codecs.js';
import { decodeWithGeotiff } from './tiff-fallback.js';
import { SUPPORTED_LAYOUTS, describeSamples, dtypeFor, parseTiffLayout, type TiffPage } from './tiff-ifd.js';
import { allocatePlanes, PageWriter, planSamples, type SampleChoice } from './tiff-samples.js';

/**
 * TIFF reading: a fast path for the classic TIFFs microscopes, cameras and plateflow itself write
 * (strips or tiles; uncompressed, LZW, Deflate or PackBits; predictors 1–3; one or more samples
 * per pixel, chunky or planar; either byte order), and geotiff for everything else (BigTIFF,
 * JPEG, LZMA, FillOrder 2…).
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
  /**
   * For files with several samples per pixel (RGB, RGBA, multi-channel): the sample to read, or
   * `'luminance'` (see `SampleChoice`). Without it such a file is refused, so a colour image never
   * enters a pipeline as something it is not. Discovery sets it on every record of such a file.
   */
  readonly sample?: SampleChoice;
}

/**
 * Decode a whole TIFF into one stack: every full-resolution page is a plane (pyramid levels and
 * thumbnails marked by NewSubfileType are skipped).
 *
 * The result may be a view over `bytes` (zero copy): do not reuse `bytes` while the stack is alive.
 *
 * @param file used in error messages only.
 * @throws TiffError (`E_TIFF_INVALID`) for an empty, truncated or non-TIFF input, pages that differ
 *   in size, dtype or samples, a sample type plateflow has no dtype for (1-bit, 12-bit, 64-bit
 *   integers, complex…), a multi-sample file read without `sample`, or data that fails to
 *   decompress. Never a bare `RangeError`.
 * @throws AbortError (`E_ABORTED`) when `signal` is aborted (checked before decoding).
 */
export async function decodeTiff(bytes: Uint8Array, file: string, opts: ReadTiffOptions = {}): Promise<ImageStack> {
  throwIfAborted(opts.signal);
  try {
    const layout = parseTiffLayout(bytes, file);
    if (layout.kind === 'classic') {
      const pages = planePages(layout.pages, file);
      if (pages.every(isFastPage)) return decodeFast(bytes, pages, layout.littleEndian, file, opts.sample);
    }
    return await decodeWithGeotiff(bytes, file, opts);
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
export async function readTiff(file: string, opts: ReadTiffOptions & { readonly readBuffer?: ReadBuffer; readonly into?: PixelDestination } = {}): Promise<ImageStack> {
  throwIfAborted(opts.signal);
  if (opts.readBuffer && opts.into && opts.sample === undefined) {
    const direct = readRawInto(file, opts.readBuffer, opts.into);
    if (direct) return direct;
  }
  const bytes = await readWholeFile(file, opts.readBuffer);
  return decodeTiff(bytes, file, opts);
}

/** Enough for the header and first IFD of files whose IFD comes before the pixels (tifffile, ArrayScan, plateflow). */
const HEAD_BYTES = 64 * 1024;

/**
 * Pixels that need no decoding go from the file straight to where the caller wants them: one
 * read of the head to find them, one read of the pixels, no copy through an intermediate buffer
 * (for a 2048² stack, the copy was 6 % of the run). Anything else — the IFD after the pixels,
 * compression, a bad file — is left to the general path, which reads it whole and reports what
 * is wrong with it.
 */
function readRawInto(file: string, head: ReadBuffer, into: PixelDestination): ImageStack | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const headLength = Math.min(size, HEAD_BYTES);
    if (head.bytes.byteLength < headLength) head.bytes = new Uint8Array(HEAD_BYTES);
    const bytes = head.bytes.subarray(0, headLength);
    if (readSync(fd, bytes, 0, headLength, 0) !== headLength) return undefined;
    const raw = rawPixels(bytes, size, file);
    if (!raw) return undefined;
    const destination = into(raw.dtype, raw.shape);
    if (!destination) return undefined;
    const { data, offset } = destination;
    const bps = data.BYTES_PER_ELEMENT;
    const target = new Uint8Array(data.buffer, data.byteOffset + offset * bps, raw.byteLength);
    for (let filled = 0; filled < raw.byteLength; ) {
      const n = readSync(fd, target, filled, raw.byteLength - filled, raw.start + filled);
      if (n === 0) throw new TiffError(file, `truncated: the file shrank to ${filled + raw.start} bytes while it was read`);
      filled += n;
    }
    return { dtype: raw.dtype, shape: raw.shape, data: viewOf(raw.dtype, data.buffer, target.byteOffset, raw.byteLength / bps) } as ImageStack;
  } catch (err) {
    if (err instanceof PlateflowError) throw err;
    return undefined; // the general path meets the same file and says what is wrong
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Where a file's pixels lie when they need no decoding (see `rawStart`); else undefined. */
function rawPixels(bytes: Uint8Array, fileSize: number, file: string): { dtype: DType; shape: readonly [number, number, number]; start: number; byteLength: number } | undefined {
  let layout;
  try {
    layout = parseTiffLayout(bytes, file);
  } catch {
    return undefined; // past the head, or not a TIFF: the general path decides
  }
  if (layout.kind !== 'classic') return undefined;
  // Pages that disagree fail here exactly as they would on the general path.
  const pages = planePages(layout.pages, file);
  if (!pages.every(isFastPage)) return undefined;
  const head = pages[0]!;
  const dtype = dtypeFor(head.bitsPerSample, head.sampleFormat)!;
  const bps = bytesPerPixel(dtype);
  const start = rawStart(pages, pages.map((p) => planBlocks(p, bps, fileSize, pages.length, file)), layout.littleEndian, bps);
  if (start === undefined) return undefined;
  const shape = [pages.length, head.height, head.width] as const;
  return { dtype, shape, start, byteLength: shape[0] * shape[1] * shape[2] * bps };
}

/**
 * Where the stack starts in the file when the pages are stored as the array itself — uncompressed,
 * one sample per pixel, in strips, the host's byte order, back to back in stack order — else undefined.
 */
function rawStart(pages: readonly TiffPage[], blocks: readonly (readonly Block[])[], littleEndian: boolean, bytesPerSample: number): number | undefined {
  if ((bytesPerSample > 1 && littleEndian !== HOST_LITTLE_ENDIAN) || !pages.every(isRawPage)) return undefined;
  const all = blocks.flat();
  return isContiguous(all) ? all[0]!.srcStart : undefined;
}

/** Stored as the array itself: uncompressed, no predictor, one sample per pixel, in strips. */
function isRawPage(p: TiffPage): boolean {
  return p.compression === COMPRESSION.none && p.predictor === 1 && p.samplesPerPixel === 1 && !p.tiled;
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

/** Full-resolution pages, checked to share one size, one representable dtype and one sample count. */
function planePages(all: readonly TiffPage[], file: string): TiffPage[] {
  const pages = all.filter((p) => !p.reducedResolution);
  if (pages.length === 0) throw new TiffError(file, 'no full-resolution image in file (all pages are reduced-resolution)');
  const head = pages[0]!;
  const headDtype = checkedDtype(head, file);
  for (const p of pages) {
    const dtype = checkedDtype(p, file);
    if (p.width !== head.width || p.height !== head.height || dtype !== headDtype || p.samplesPerPixel !== head.samplesPerPixel) {
      throw new TiffError(
        file,
        `page ${p.index} is ${describePage(p, dtype)} but page ${head.index} is ${describePage(head, headDtype)}; all pages must share size, dtype and samples per pixel`,
      );
    }
  }
  return pages;
}

function describePage(p: TiffPage, dtype: DType): string {
  return `${p.width}×${p.height} ${dtype}${p.samplesPerPixel === 1 ? '' : ` × ${p.samplesPerPixel} samples`}`;
}

function checkedDtype(p: TiffPage, file: string): DType {
  const dtype = dtypeFor(p.bitsPerSample, p.sampleFormat);
  if (dtype === undefined) {
    throw new TiffError(
      file,
      `unsupported sample layout: page ${p.index} is ${describeSamples(p.bitsPerSample, p.sampleFormat, p.samplesPerPixel)} (${SUPPORTED_LAYOUTS})`,
    );
  }
  if (!isReadableCompression(p.compression)) {
    throw new TiffError(file, `unsupported compression: page ${p.index} uses ${describeCompression(p.compression)} (${READABLE_COMPRESSIONS})`);
  }
  // JPEG's decoder turns YCbCr back into RGB; for any other compression the samples would be Y, Cb, Cr.
  if (p.photometric === PHOTOMETRIC_YCBCR && p.compression !== COMPRESSION_JPEG) {
    throw new TiffError(file, `unsupported sample layout: page ${p.index} is YCbCr colour (PhotometricInterpretation 6) without JPEG compression; save it as RGB`);
  }
  return dtype;
}

const PHOTOMETRIC_YCBCR = 6;
const COMPRESSION_JPEG = 7;

/** What the fast path decodes itself; everything else (JPEG, LZMA, BigTIFF, FillOrder 2…) goes to geotiff. */
function isFastPage(p: TiffPage): boolean {
  if (p.blockOffsets === undefined || p.fillOrder !== 1) return false;
  if (!FAST_COMPRESSIONS.has(p.compression)) return false;
  if (p.compression !== COMPRESSION.none && p.blockByteCounts === undefined) return false;
  if (p.predictor === 2) return p.sampleFormat !== 3; // differencing floats as integers is not valid TIFF
  if (p.predictor === 3) return p.sampleFormat === 3;
  return p.predictor === 1;
}

function decodeFast(bytes: Uint8Array, pages: readonly TiffPage[], littleEndian: boolean, file: string, sample: SampleChoice | undefined): ImageStack {
  const head = pages[0]!;
  const sourceDtype = dtypeFor(head.bitsPerSample, head.sampleFormat)!;
  const plan = planSamples(head.samplesPerPixel, sourceDtype, sample, file, head.index);
  const bps = bytesPerPixel(sourceDtype);
  const { width, height } = head;
  const planePixels = width * height;
  const blocks = pages.map((p) => planBlocks(p, bps, bytes.byteLength, pages.length, file));
  const shape = [pages.length, height, width] as const;
  const swap = bps > 1 && littleEndian !== HOST_LITTLE_ENDIAN;

  const start = rawStart(pages, blocks, littleEndian, bps);
  if (start !== undefined) {
    const absolute = bytes.byteOffset + start;
    const dtype = sourceDtype;
    if (absolute % bps === 0) return { dtype, shape, data: viewOf(dtype, bytes.buffer, absolute, planePixels * pages.length) } as ImageStack;
    const aligned = new Uint8Array(planePixels * pages.length * bps);
    aligned.set(bytes.subarray(start, start + aligned.byteLength));
    return { dtype, shape, data: viewOf(dtype, aligned.buffer, 0, planePixels * pages.length) } as ImageStack;
  }

  const data = allocatePlanes(plan.dtype, planePixels * pages.length, file);
  let scratch = new Uint8Array(0);
  pages.forEach((page, i) => {
    const writer = new PageWriter(plan, data.subarray(i * planePixels, (i + 1) * planePixels), width, height);
    for (const block of blocks[i]!) {
      if (!writer.wants(block.firstSample, block.samples)) continue; // planar: skip the samples not read
      const direct = page.tiled ? undefined : writer.directTarget(block.y, block.width, block.rows, block.firstSample, block.samples);
      if (direct) {
        decodeBlock(bytes, block, direct, sourceDtype, swap, pages.length, file);
        continue;
      }
      if (scratch.byteLength < block.decodedLength) scratch = new Uint8Array(block.decodedLength);
      const dst = scratch.subarray(0, block.decodedLength);
      decodeBlock(bytes, block, dst, sourceDtype, swap, pages.length, file);
      writer.put(viewOf(sourceDtype, dst.buffer, 0, block.decodedLength / bps), block.width, block.rows, block.x, block.y, block.firstSample, block.samples);
    }
    writer.finish();
  });
  return { dtype: plan.dtype, shape, data } as ImageStack;
}

/** True when all blocks sit back to back in the file in stack order, so the stack is one slice. */
function isContiguous(blocks: readonly Block[]): boolean {
  let expected = blocks[0]!.srcStart;
  for (const b of blocks) {
    if (b.srcStart !== expected) return false;
    expected += b.srcLength;
  }
  return true;
}
