import { TiffError } from '../errors.js';
import { viewOf, type DType } from '../image.js';
import { COMPRESSION, decodeStrip, undoFloatPredictor, undoHorizontalPredictor } from './tiff-codecs.js';
import type { TiffPage } from './tiff-ifd.js';

/**
 * The blocks (strips or tiles) of a page for the fast read path: where each one's bytes are, what
 * part of the image it covers, and how to turn its bytes into host-order samples.
 *
 * ```
 * chunky (PlanarConfiguration 1)      planar (PlanarConfiguration 2)
 *   block = rows × width × RGB          blocks of R | blocks of G | blocks of B
 *   offsets[i], i over blocks           offsets[s·blocksPerSample + i]
 * ```
 *
 * Strips span the image width; tiles are `TileWidth × TileLength` and padded at the right and
 * bottom edges, so a tile always decodes to its full size.
 *
 * @module
 */

export interface Block {
  readonly page: TiffPage;
  /** Index in the page's offset list, for messages. */
  readonly index: number;
  /** Top-left pixel of the block in the image. */
  readonly x: number;
  readonly y: number;
  /** Pixels per block row (the image width for strips) and rows in this block. */
  readonly width: number;
  readonly rows: number;
  /** First sample the block holds, and how many per pixel (all for chunky, 1 for planar). */
  readonly firstSample: number;
  readonly samples: number;
  /** The block's bytes in the file. */
  readonly srcStart: number;
  readonly srcLength: number;
  /** Bytes it must decode to. */
  readonly decodedLength: number;
}

/**
 * Upper bounds on decoded ÷ compressed size: deflate ≈ 1032:1, PackBits 128 bytes from 2, LZW at
 * most 4095 bytes from one 12-bit code. Uncompressed blocks are checked against the file size.
 */
const MAX_RATIO: Readonly<Record<number, number>> = {
  [COMPRESSION.none]: 1,
  [COMPRESSION.deflate]: 1100,
  [COMPRESSION.adobeDeflate]: 1100,
  [COMPRESSION.packbits]: 64,
  [COMPRESSION.lzw]: 2800,
};

export function blockName(b: Block, pageCount: number): string {
  const kind = b.page.tiled ? 'tile' : 'strip';
  return pageCount > 1 ? `${kind} ${b.index} of page ${b.page.index}` : `${kind} ${b.index}`;
}

/**
 * Every block of `page`, bounds-checked against the file before anything is allocated.
 *
 * @throws TiffError for missing offsets, a block past the end of the file, or byte counts too small
 *   for what the block must decode to.
 */
export function planBlocks(page: TiffPage, bytesPerSample: number, fileSize: number, pageCount: number, file: string): Block[] {
  const { width, height, blockWidth, blockHeight, samplesPerPixel } = page;
  if (!(blockWidth > 0 && blockHeight > 0)) {
    throw new TiffError(file, `corrupt: page ${page.index} has ${page.tiled ? `tile size ${blockWidth}×${blockHeight}` : `RowsPerStrip ${blockHeight}`}`);
  }
  const planar = page.planarConfiguration === 2 && samplesPerPixel > 1;
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const perSample = across * down;
  const needed = planar ? perSample * samplesPerPixel : perSample;
  const offsets = page.blockOffsets!;
  const counts = page.blockByteCounts;
  const kind = page.tiled ? 'tiles' : 'strips';
  if (offsets.length < needed || (counts !== undefined && counts.length < needed)) {
    throw new TiffError(file, `corrupt: page ${page.index} needs ${needed} ${kind} but lists ${Math.min(offsets.length, counts?.length ?? Infinity)}`);
  }
  const samples = planar ? 1 : samplesPerPixel;
  const blocks: Block[] = [];
  for (let i = 0; i < needed; i++) {
    const within = i % perSample;
    const y = Math.floor(within / across) * blockHeight;
    // Only the last strip may be short; tiles are stored whole.
    const rows = page.tiled ? blockHeight : Math.min(blockHeight, height - y);
    const decodedLength = blockWidth * rows * samples * bytesPerSample;
    const block: Block = {
      page,
      index: i,
      x: (within % across) * blockWidth,
      y,
      width: blockWidth,
      rows,
      firstSample: planar ? Math.floor(i / perSample) : 0,
      samples,
      srcStart: offsets[i]!,
      // Uncompressed blocks are read at their true size: some writers pad the byte counts.
      srcLength: page.compression === COMPRESSION.none ? decodedLength : counts![i]!,
      decodedLength,
    };
    const end = block.srcStart + block.srcLength;
    if (end > fileSize) {
      throw new TiffError(file, `truncated: ${blockName(block, pageCount)} ends at byte ${end} but the file has ${fileSize} bytes`);
    }
    // Refuse before allocating: a corrupt size field must not make us reserve gigabytes.
    const ratio = MAX_RATIO[page.compression] ?? 1;
    if (decodedLength > block.srcLength * ratio + 4096) {
      throw new TiffError(file, `corrupt: ${blockName(block, pageCount)} has ${block.srcLength} compressed bytes, too few for the ${decodedLength} bytes it should decode to`);
    }
    blocks.push(block);
  }
  return blocks;
}

/**
 * Decode `block` from `bytes` into `dst` (exactly `block.decodedLength` bytes, aligned for `dtype`)
 * and leave host-order samples there: decompress, byte-swap when the file's order differs from the
 * host's, undo the predictor.
 *
 * @throws TiffError naming the block when the data does not decompress or comes out short.
 */
export function decodeBlock(bytes: Uint8Array, block: Block, dst: Uint8Array, dtype: DType, swap: boolean, pageCount: number, file: string): void {
  const { page } = block;
  const src = bytes.subarray(block.srcStart, block.srcStart + block.srcLength);
  let produced: number;
  try {
    produced = decodeStrip(page.compression, src, dst);
  } catch (err) {
    throw new TiffError(file, `${blockName(block, pageCount)}: ${(err as Error).message}`, { cause: err });
  }
  if (produced < dst.length) {
    throw new TiffError(file, `${blockName(block, pageCount)} decodes to ${produced} bytes, expected ${dst.length} (${describeBlock(block)})`);
  }
  const bytesPerSample = page.bitsPerSample / 8;
  const rowLength = block.width * block.samples;
  if (page.predictor === 3) {
    // The floating-point predictor's byte planes are big-endian by definition: never swapped.
    undoFloatPredictor(dst, rowLength, block.rows, block.samples, bytesPerSample);
    return;
  }
  if (swap) {
    const buf = Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength);
    if (bytesPerSample === 2) buf.swap16();
    else if (bytesPerSample === 4) buf.swap32();
    else buf.swap64();
  }
  if (page.predictor === 2) {
    undoHorizontalPredictor(viewOf(dtype, dst.buffer, dst.byteOffset, dst.byteLength / bytesPerSample), rowLength, block.rows, block.samples);
  }
}

function describeBlock(b: Block): string {
  return `${b.width}×${b.rows} pixels × ${b.samples} sample${b.samples === 1 ? '' : 's'} × ${b.page.bitsPerSample} bits`;
}
