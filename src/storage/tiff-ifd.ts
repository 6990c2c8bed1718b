import { TiffError } from '../errors.js';
import type { DType } from '../image.js';

/**
 * Classic-TIFF header and IFD parsing for the fast read path.
 *
 * Only the tags the strip decoder needs are read; everything else is skipped. Every offset taken
 * from the file is bounds-checked here, so a truncated or hostile file becomes a `TiffError` that
 * says which structure ran past the end, never a `RangeError` from a `DataView`.
 *
 * @module
 */

export const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  PhotometricInterpretation: 262,
  FillOrder: 266,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

const WANTED: ReadonlySet<number> = new Set(Object.values(TAG));

/** Byte size of one value of each TIFF field type (TIFF 6.0 §2, plus IFD = 13). */
const TYPE_SIZE: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };

export interface TiffPage {
  /** Position in the IFD chain (0-based), for messages. */
  readonly index: number;
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly samplesPerPixel: number;
  /** 1 uint, 2 int, 3 float (4 "undefined" is read as uint). */
  readonly sampleFormat: number;
  /** 1 chunky (samples interleaved per pixel), 2 planar (one plane of blocks per sample). */
  readonly planarConfiguration: number;
  /** 0/1 grey, 2 RGB, 3 palette, 6 YCbCr…; -1 when the tag is absent. */
  readonly photometric: number;
  readonly compression: number;
  readonly predictor: number;
  readonly fillOrder: number;
  /** Strips: rows per strip and the image width. Tiles: the tile size. */
  readonly blockWidth: number;
  readonly blockHeight: number;
  /** StripOffsets / TileOffsets and their byte counts; planar pages list sample 0's blocks first. */
  readonly blockOffsets: readonly number[] | undefined;
  readonly blockByteCounts: readonly number[] | undefined;
  readonly tiled: boolean;
  /** NewSubfileType bit 0: a thumbnail / pyramid level, not a plane of the stack. */
  readonly reducedResolution: boolean;
}

export type TiffLayout =
  | { readonly kind: 'classic'; readonly littleEndian: boolean; readonly pages: readonly TiffPage[] }
  | { readonly kind: 'bigtiff' };

/**
 * Parse the header and walk the IFD chain.
 *
 * @throws TiffError (`E_TIFF_INVALID`) for an empty file, bad magic bytes, or any structure that
 * lies past the end of the file.
 */
export function parseTiffLayout(bytes: Uint8Array, file: string): TiffLayout {
  const size = bytes.byteLength;
  if (size === 0) throw new TiffError(file, 'empty file (0 bytes)');
  const b0 = bytes[0];
  const b1 = bytes[1];
  const littleEndian = b0 === 0x49 && b1 === 0x49; // "II"
  const bigEndian = b0 === 0x4d && b1 === 0x4d; // "MM"
  if (size < 4 || (!littleEndian && !bigEndian)) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const magic = view.getUint16(2, littleEndian);
  if (magic === 43) return { kind: 'bigtiff' };
  if (magic !== 42) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
  if (size < 8) throw new TiffError(file, `truncated: the header needs 8 bytes but the file has ${size} bytes`);

  const pages: TiffPage[] = [];
  const seen = new Set<number>();
  let offset = view.getUint32(4, littleEndian);
  if (offset === 0) throw new TiffError(file, 'no image in file (first IFD offset is 0)');
  while (offset !== 0) {
    // A cycle in the chain would otherwise loop forever on a crafted file.
    if (seen.has(offset)) throw new TiffError(file, `IFD chain loops back to byte ${offset}`);
    seen.add(offset);
    const index = pages.length;
    if (offset + 2 > size) {
      throw new TiffError(file, `truncated: IFD ${index} starts at byte ${offset} but the file has ${size} bytes`);
    }
    const count = view.getUint16(offset, littleEndian);
    const entriesEnd = offset + 2 + count * 12;
    if (entriesEnd > size) {
      throw new TiffError(file, `truncated: IFD ${index} ends at byte ${entriesEnd} but the file has ${size} bytes`);
    }
    const tags = new Map<number, number[]>();
    for (let e = offset + 2; e < entriesEnd; e += 12) {
      const tag = view.getUint16(e, littleEndian);
      if (!WANTED.has(tag)) continue;
      const type = view.getUint16(e + 2, littleEndian);
      const n = view.getUint32(e + 4, littleEndian);
      const typeSize = TYPE_SIZE[type];
      if (typeSize === undefined) continue; // unknown field types must be skipped (TIFF 6.0 §2)
      const byteLength = typeSize * n;
      const at = byteLength <= 4 ? e + 8 : view.getUint32(e + 8, littleEndian);
      if (at + byteLength > size) {
        throw new TiffError(file, `truncated: values of tag ${tag} in IFD ${index} end at byte ${at + byteLength} but the file has ${size} bytes`);
      }
      tags.set(tag, readValues(view, type, n, at, littleEndian));
    }
    pages.push(toPage(tags, index, file));
    // Some writers end the last IFD at EOF without the 4-byte "next IFD" pointer; treat it as 0.
    offset = entriesEnd + 4 <= size ? view.getUint32(entriesEnd, littleEndian) : 0;
  }
  return { kind: 'classic', littleEndian, pages };
}

function readValues(view: DataView, type: number, n: number, at: number, le: boolean): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (type) {
      case 3: out[i] = view.getUint16(at + 2 * i, le); break;
      case 8: out[i] = view.getInt16(at + 2 * i, le); break;
      case 4: case 13: out[i] = view.getUint32(at + 4 * i, le); break;
      case 9: out[i] = view.getInt32(at + 4 * i, le); break;
      case 1: case 2: case 7: out[i] = view.getUint8(at + i); break;
      case 6: out[i] = view.getInt8(at + i); break;
      // None of the tags we read use rationals or floats; keep the slot but give it no meaning.
      default: out[i] = Number.NaN;
    }
  }
  return out;
}

function first(tags: Map<number, number[]>, tag: number, fallback: number): number {
  const v = tags.get(tag);
  return v !== undefined && v.length > 0 ? v[0]! : fallback;
}

function toPage(tags: Map<number, number[]>, index: number, file: string): TiffPage {
  const width = first(tags, TAG.ImageWidth, 0);
  const height = first(tags, TAG.ImageLength, 0);
  if (width <= 0 || height <= 0) {
    throw new TiffError(file, `IFD ${index} has no valid image size (ImageWidth ${width}, ImageLength ${height})`);
  }
  const samplesPerPixel = first(tags, TAG.SamplesPerPixel, 1);
  if (!(samplesPerPixel >= 1)) throw new TiffError(file, `IFD ${index} has SamplesPerPixel ${samplesPerPixel}`);
  const bps = tags.get(TAG.BitsPerSample) ?? [1];
  const formats = tags.get(TAG.SampleFormat) ?? [1];
  // One value stands for all samples (TIFF 6.0 allows N; writers give 1 or N, anything else is broken).
  for (const [name, values] of [['BitsPerSample', bps], ['SampleFormat', formats]] as const) {
    if (values.length !== 1 && values.length !== samplesPerPixel) {
      throw new TiffError(file, `corrupt: IFD ${index} lists ${values.length} ${name} values for ${samplesPerPixel} samples per pixel`);
    }
  }
  if (bps.some((b) => b !== bps[0]) || formats.some((f) => f !== formats[0])) {
    throw new TiffError(file, `unsupported sample layout: IFD ${index} mixes bit depths or sample formats (BitsPerSample ${bps.join(',')}, SampleFormat ${formats.join(',')})`);
  }
  const tiled = tags.has(TAG.TileWidth) || tags.has(TAG.TileOffsets);
  const rowsPerStrip = Math.min(first(tags, TAG.RowsPerStrip, height), height);
  return {
    index,
    width,
    height,
    bitsPerSample: bps[0]!,
    samplesPerPixel,
    sampleFormat: formats[0]!,
    planarConfiguration: first(tags, TAG.PlanarConfiguration, 1),
    photometric: first(tags, TAG.PhotometricInterpretation, -1),
    compression: first(tags, TAG.Compression, 1),
    predictor: first(tags, TAG.Predictor, 1),
    fillOrder: first(tags, TAG.FillOrder, 1),
    blockWidth: tiled ? first(tags, TAG.TileWidth, 0) : width,
    blockHeight: tiled ? first(tags, TAG.TileLength, 0) : rowsPerStrip > 0 ? rowsPerStrip : height,
    blockOffsets: tags.get(tiled ? TAG.TileOffsets : TAG.StripOffsets),
    blockByteCounts: tags.get(tiled ? TAG.TileByteCounts : TAG.StripByteCounts),
    tiled,
    reducedResolution: (first(tags, TAG.NewSubfileType, 0) & 1) === 1,
  };
}

const DTYPE_BY_FORMAT: Readonly<Record<number, Readonly<Record<number, DType>>>> = {
  1: { 8: 'uint8', 16: 'uint16', 32: 'uint32' },
  2: { 8: 'int8', 16: 'int16', 32: 'int32' },
  3: { 32: 'float32', 64: 'float64' },
};

/** Map (bits, SampleFormat) to a plateflow dtype, or undefined when plateflow has no such dtype. */
export function dtypeFor(bitsPerSample: number, sampleFormat: number): DType | undefined {
  // SampleFormat 4 ("undefined") is read as unsigned, as libtiff does.
  return DTYPE_BY_FORMAT[sampleFormat === 4 ? 1 : sampleFormat]?.[bitsPerSample];
}

/** "16-bit signed integer" etc., for messages about layouts we cannot represent. */
export function describeSamples(bitsPerSample: number, sampleFormat: number, samplesPerPixel: number): string {
  const kind = sampleFormat === 2 ? 'signed integer' : sampleFormat === 3 ? 'float' : 'unsigned integer';
  const samples = samplesPerPixel === 1 ? '' : `, ${samplesPerPixel} samples per pixel`;
  return `${bitsPerSample}-bit ${kind}${samples}`;
}

export const SUPPORTED_LAYOUTS = 'plateflow reads 8-, 16- and 32-bit integer (signed or not), 32- and 64-bit float samples, one or more per pixel';
