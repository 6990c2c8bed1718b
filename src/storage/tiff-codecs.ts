import { inflateSync } from 'node:zlib';
import type { PixelArray } from '../image.js';

/**
 * Strip decompressors for the fast read path. Each writes into a caller-owned destination (the
 * final stack's bytes), so a compressed strip costs one decode and no extra copy, and returns how
 * many bytes it produced so the caller can report a short strip.
 *
 * They throw plain `Error`s with a short reason; `tiff-read.ts` wraps them in a `TiffError` that
 * names the file, page and strip.
 *
 * @module
 */

export const COMPRESSION = { none: 1, lzw: 5, deflate: 8, adobeDeflate: 32946, packbits: 32773 } as const;

/** Compressions the fast path decodes itself; anything else goes to geotiff. */
export const FAST_COMPRESSIONS: ReadonlySet<number> = new Set(Object.values(COMPRESSION));

/** What geotiff decodes beyond those in Node: JPEG, LERC, Zstandard (its WebP decoder needs a browser). */
const FALLBACK_COMPRESSIONS: ReadonlySet<number> = new Set([7, 34887, 50000]);

const COMPRESSION_NAMES: Readonly<Record<number, string>> = {
  1: 'none', 2: 'CCITT RLE', 3: 'CCITT Group 3', 4: 'CCITT Group 4', 5: 'LZW', 6: 'old-style JPEG', 7: 'JPEG',
  8: 'Deflate', 32773: 'PackBits', 32946: 'Deflate', 33003: 'JPEG 2000 (Aperio)', 33005: 'JPEG 2000 (Aperio)',
  34712: 'JPEG 2000', 34887: 'LERC', 34925: 'LZMA', 50000: 'Zstandard', 50001: 'WebP', 50002: 'JPEG XL', 52546: 'JPEG XL',
};

/** True when the fast path or geotiff can decode `compression`. */
export function isReadableCompression(compression: number): boolean {
  return FAST_COMPRESSIONS.has(compression) || FALLBACK_COMPRESSIONS.has(compression);
}

/** "JPEG 2000 (Compression 34712)", for messages. */
export function describeCompression(compression: number): string {
  const name = COMPRESSION_NAMES[compression];
  return name === undefined ? `unknown compression ${compression}` : `${name} (Compression ${compression})`;
}

export const READABLE_COMPRESSIONS = 'plateflow reads uncompressed, LZW, Deflate, PackBits, JPEG, LERC and Zstandard TIFFs';

/** Decode one strip into `dst` (exactly the strip's expected byte length). Returns bytes written. */
export function decodeStrip(compression: number, src: Uint8Array, dst: Uint8Array): number {
  switch (compression) {
    case COMPRESSION.none: {
      const n = Math.min(src.length, dst.length);
      dst.set(src.subarray(0, n));
      return n;
    }
    case COMPRESSION.deflate:
    case COMPRESSION.adobeDeflate: {
      const out = inflateSync(src);
      const n = Math.min(out.length, dst.length);
      dst.set(out.subarray(0, n));
      return out.length;
    }
    case COMPRESSION.packbits:
      return packbitsDecode(src, dst);
    case COMPRESSION.lzw:
      return lzwDecode(src, dst);
    default:
      throw new Error(`compression ${compression} is not handled by the fast path`);
  }
}

/** PackBits (Apple run-length, TIFF 6.0 §9). Output beyond `dst` is dropped. */
export function packbitsDecode(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  const cap = dst.length;
  let i = 0;
  let o = 0;
  while (i < n && o < cap) {
    const header = src[i++]!;
    if (header < 128) {
      // Clamp both ends: a truncated literal run must not turn into a RangeError from `set`.
      const take = Math.min(header + 1, n - i, cap - o);
      dst.set(src.subarray(i, i + take), o);
      i += header + 1;
      o += take;
    } else if (header > 128) {
      if (i >= n) break;
      const run = Math.min(257 - header, cap - o);
      dst.fill(src[i++]!, o, o + run);
      o += run;
    }
    // 128 is a no-op by definition.
  }
  return o;
}

const CLEAR = 256;
const EOI = 257;
const MAX_CODES = 4096;

/**
 * TIFF LZW (TIFF 6.0 §13): MSB-first codes of 9–12 bits with the "early change" width increase
 * that libtiff and every modern writer use. The dictionary is kept as prefix/suffix arrays, and a
 * code's string is written back-to-front, so decoding allocates nothing per code.
 * Output beyond `dst` is dropped; the return value is the full decoded length.
 */
export function lzwDecode(src: Uint8Array, dst: Uint8Array): number {
  const prefix = new Uint16Array(MAX_CODES);
  const suffix = new Uint8Array(MAX_CODES);
  const head = new Uint8Array(MAX_CODES); // first byte of each code's string
  const length = new Uint16Array(MAX_CODES);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    head[i] = i;
    length[i] = 1;
  }
  const cap = dst.length;
  let next = 258;
  let width = 9;
  let prev = -1;
  let out = 0;
  let bits = 0;
  let nbits = 0;
  let pos = 0;

  const emit = (code: number): void => {
    const len = length[code]!;
    let c = code;
    for (let p = out + len - 1; p >= out; p--) {
      if (p < cap) dst[p] = suffix[c]!;
      c = prefix[c]!;
    }
    out += len;
  };

  for (;;) {
    while (nbits < width) {
      // A stream that ends without EOI is common (some writers omit it); stop cleanly.
      if (pos >= src.length) return out;
      bits = ((bits << 8) | src[pos++]!) & 0xffffff;
      nbits += 8;
    }
    nbits -= width;
    const code = (bits >>> nbits) & ((1 << width) - 1);
    if (code === EOI) return out;
    if (code === CLEAR) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (prev === -1) {
      if (code > 255) throw new Error(`corrupt LZW data: code ${code} directly after a clear code`);
      emit(code);
      prev = code;
      continue;
    }
    let firstByte: number;
    if (code < next) {
      emit(code);
      firstByte = head[code]!;
    } else if (code === next) {
      // The KwKwK case: the code being defined is prev's string plus its own first byte.
      firstByte = head[prev]!;
      emit(prev);
      if (out < cap) dst[out] = firstByte;
      out++;
    } else {
      throw new Error(`corrupt LZW data: code ${code} is not yet defined (next is ${next})`);
    }
    if (next < MAX_CODES) {
      prefix[next] = prev;
      suffix[next] = firstByte;
      head[next] = head[prev]!;
      length[next] = length[prev]! + 1;
      next++;
    }
    prev = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Undo horizontal differencing (Predictor 2) in place, row by row, on samples already in host
 * byte order. `stride` is the samples per pixel of the block (each sample differs from the same
 * sample of the previous pixel). Typed-array stores wrap modulo the element size exactly as the
 * encoder's subtraction did, for signed and unsigned types.
 */
export function undoHorizontalPredictor(data: PixelArray, rowLength: number, rows: number, stride: number): void {
  for (let y = 0; y < rows; y++) {
    const row = y * rowLength;
    for (let x = row + stride; x < row + rowLength; x++) data[x] = data[x]! + data[x - stride]!;
  }
}

/**
 * Undo the floating-point predictor (Predictor 3, Adobe Photoshop TIFF Technical Note 3) in place:
 * each row was split into byte planes, most significant byte first, then byte-differenced with a
 * stride of the samples per pixel. The result is in host byte order whatever the file's order is,
 * so it must not be byte-swapped afterwards.
 */
export function undoFloatPredictor(bytes: Uint8Array, rowLength: number, rows: number, stride: number, bytesPerSample: number): void {
  const rowBytes = rowLength * bytesPerSample;
  const tmp = new Uint8Array(rowBytes);
  for (let y = 0; y < rows; y++) {
    const row = bytes.subarray(y * rowBytes, (y + 1) * rowBytes);
    for (let i = stride; i < rowBytes; i++) row[i] = (row[i]! + row[i - stride]!) & 0xff;
    tmp.set(row);
    for (let s = 0; s < rowLength; s++) {
      for (let b = 0; b < bytesPerSample; b++) {
        // Byte plane b holds byte b counted from the most significant end.
        const hostByte = HOST_LITTLE_ENDIAN ? bytesPerSample - 1 - b : b;
        row[s * bytesPerSample + hostByte] = tmp[b * rowLength + s]!;
      }
    }
  }
}
