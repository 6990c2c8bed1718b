import { TiffError } from '../errors.js';
import { bytesPerPixel, dtypeOf, type DType, type ImageStack } from '../image.js';
import { writeFileAtomic, type AtomicWriteBatch } from './atomic.js';

/**
 * Baseline little-endian classic TIFF writer: uncompressed, one strip per page, one page per plane.
 *
 * File layout, built in one allocation whose size is computed first:
 *
 * ```
 * 0      header  "II" 42 <offset of IFD 0>
 * 8      IFD 0   entries … <offset of IFD 1>   (ImageDescription text follows IFD 0)
 *        IFD 1   …                              <0 after the last IFD>
 *        …       zero padding up to a 16-byte boundary
 * data   plane 0 | plane 1 | … | plane N-1      (the stack's bytes, one memcpy)
 * ```
 *
 * Putting all pixel data last, contiguous and aligned is what lets `decodeTiff` return the whole
 * stack as a single zero-copy view of the file we wrote.
 *
 * @module
 */

export interface EncodeTiffOptions {
  /** Written as ImageDescription on the first page (UTF-8, NUL-terminated). */
  readonly description?: string;
  /** Name used in error messages; defaults to `<stack>`. */
  readonly file?: string;
}

const SAMPLE_FORMAT: Readonly<Record<DType, number>> = { uint8: 1, int8: 2, uint16: 1, int16: 2, uint32: 1, int32: 2, float32: 3, float64: 3 };
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_ASCII = 2;
const DATA_ALIGNMENT = 16;
const MAX_CLASSIC_SIZE = 2 ** 32 - 1;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** Inline value (SHORT/LONG), or the offset of out-of-line data. */
  readonly value: number;
}

/**
 * Encode a stack as a multi-page (when planes > 1) baseline TIFF.
 *
 * @throws TiffError (`E_TIFF_INVALID`) when the stack is inconsistent (data length ≠ shape, dtype
 *   ≠ array type, a zero dimension) or too large for classic TIFF (4 GiB).
 */
export function encodeTiff(stack: ImageStack, opts: EncodeTiffOptions = {}): Uint8Array {
  const [head, pixels] = encodeTiffParts(stack, opts);
  if (pixels === undefined) return head;
  const out = new Uint8Array(head.length + pixels.length);
  out.set(head);
  out.set(pixels, head.length);
  return out;
}

/**
 * The file as [header and IFDs, pixel bytes]: on a little-endian host the pixel part is a view of
 * the stack's own memory, so a write needs no second copy of the image (writev sends both).
 * On a big-endian host everything is in the first part, byte-swapped.
 */
export function encodeTiffParts(stack: ImageStack, opts: EncodeTiffOptions = {}): [Uint8Array, Uint8Array?] {
  const file = opts.file ?? '<stack>';
  const [planes, height, width] = stack.shape;
  checkStack(stack, file);
  const bpp = bytesPerPixel(stack.dtype);
  const planeBytes = width * height * bpp;
  const description = opts.description !== undefined ? new TextEncoder().encode(opts.description + '\0') : undefined;

  const entryCount = (page: number): number => (page === 0 && description ? 12 : 11);
  const ifdSize = (page: number): number => 2 + entryCount(page) * 12 + 4;
  // Word alignment of every IFD is required by the spec; the text may have odd length.
  const descriptionSpace = description ? description.length + (description.length % 2) : 0;
  let offset = 8;
  const ifdOffsets: number[] = [];
  for (let p = 0; p < planes; p++) {
    ifdOffsets.push(offset);
    offset += ifdSize(p) + (p === 0 ? descriptionSpace : 0);
  }
  const dataOffset = Math.ceil(offset / DATA_ALIGNMENT) * DATA_ALIGNMENT;
  const total = dataOffset + planes * planeBytes;
  if (total > MAX_CLASSIC_SIZE) {
    throw new TiffError(file, `stack of ${total} bytes is too large for classic TIFF (4 GiB limit)`);
  }

  const out = new Uint8Array(HOST_LITTLE_ENDIAN ? dataOffset : total);
  const view = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  view.setUint16(2, 42, true);
  view.setUint32(4, ifdOffsets[0]!, true);

  for (let p = 0; p < planes; p++) {
    const at = ifdOffsets[p]!;
    const textAt = at + ifdSize(p);
    // Entries must be in ascending tag order.
    const entries: Entry[] = [
      { tag: 256, type: TYPE_LONG, count: 1, value: width },
      { tag: 257, type: TYPE_LONG, count: 1, value: height },
      { tag: 258, type: TYPE_SHORT, count: 1, value: bpp * 8 },
      { tag: 259, type: TYPE_SHORT, count: 1, value: 1 }, // no compression
      { tag: 262, type: TYPE_SHORT, count: 1, value: 1 }, // BlackIsZero
      ...(p === 0 && description ? [{ tag: 270, type: TYPE_ASCII, count: description.length, value: textAt }] : []),
      { tag: 273, type: TYPE_LONG, count: 1, value: dataOffset + p * planeBytes },
      { tag: 277, type: TYPE_SHORT, count: 1, value: 1 },
      { tag: 278, type: TYPE_LONG, count: 1, value: height },
      { tag: 279, type: TYPE_LONG, count: 1, value: planeBytes },
      { tag: 284, type: TYPE_SHORT, count: 1, value: 1 }, // contiguous
      { tag: 339, type: TYPE_SHORT, count: 1, value: SAMPLE_FORMAT[stack.dtype] },
    ];
    view.setUint16(at, entries.length, true);
    entries.forEach((e, i) => {
      const pos = at + 2 + i * 12;
      view.setUint16(pos, e.tag, true);
      view.setUint16(pos + 2, e.type, true);
      view.setUint32(pos + 4, e.count, true);
      if (e.type === TYPE_SHORT) view.setUint16(pos + 8, e.value, true);
      else if (e.type === TYPE_ASCII && e.count <= 4) out.set(description!, pos + 8);
      else view.setUint32(pos + 8, e.value, true);
    });
    view.setUint32(at + 2 + entries.length * 12, p + 1 < planes ? ifdOffsets[p + 1]! : 0, true);
    if (p === 0 && description && description.length > 4) out.set(description, textAt);
  }

  const data = stack.data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return [out, bytes];
  out.set(bytes, dataOffset);
  if (bpp > 1) {
    const pixels = Buffer.from(out.buffer, dataOffset, planes * planeBytes);
    if (bpp === 2) pixels.swap16();
    else if (bpp === 4) pixels.swap32();
    else pixels.swap64();
  }
  return [out];
}

/**
 * Encode and write atomically (temp file, fsync, rename): a reader sees the old file or the whole
 * new one, never part of it. Parent directories are created. With `batch`, the file is only
 * staged there and appears under its name when the caller commits the batch.
 *
 * @throws TiffError as for `encodeTiff`; StorageError (`E_STORAGE_IO`) when the write fails.
 */
export async function writeTiff(file: string, stack: ImageStack, opts: Omit<EncodeTiffOptions, 'file'> & { readonly batch?: AtomicWriteBatch } = {}): Promise<void> {
  const [head, pixels] = encodeTiffParts(stack, { ...(opts.description !== undefined ? { description: opts.description } : {}), file });
  const parts = pixels === undefined ? head : [head, pixels];
  if (opts.batch) await opts.batch.stage(file, parts);
  else await writeFileAtomic(file, parts);
}

function checkStack(stack: ImageStack, file: string): void {
  const [planes, height, width] = stack.shape;
  for (const [name, n] of [['planes', planes], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(n) || n <= 0) throw new TiffError(file, `cannot encode a stack with ${name} = ${n}`);
  }
  if (dtypeOf(stack.data) !== stack.dtype || stack.data.BYTES_PER_ELEMENT !== bytesPerPixel(stack.dtype)) {
    throw new TiffError(file, `cannot encode: dtype is ${stack.dtype} but data is a ${stack.data.constructor.name}`);
  }
  const expected = planes * height * width;
  if (stack.data.length !== expected) {
    throw new TiffError(file, `cannot encode: shape [${stack.shape.join(', ')}] needs ${expected} pixels but data has ${stack.data.length}`);
  }
  if (width > 0xffffffff || height > 0xffffffff) throw new TiffError(file, 'image dimensions exceed classic TIFF limits');
}
