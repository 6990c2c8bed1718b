import { BaseDecoder, fromArrayBuffer, getDecoder, type GeoTIFFImage, type Pool } from 'geotiff';
import { AbortError, TiffError } from '../errors.js';
import { allocate, dtypeOf, type DType, type ImageStack, type PixelArray } from '../image.js';
import { COMPRESSION, lzwDecode, packbitsDecode } from './tiff-codecs.js';
import { SUPPORTED_LAYOUTS } from './tiff-ifd.js';

type BaseDecoderParameters = ConstructorParameters<typeof BaseDecoder>[0];

/**
 * The slow, general path: geotiff handles tiles, BigTIFF and the compressions and predictors the
 * fast path leaves out. Its output is checked against what an `ImageStack` can hold.
 *
 * @module
 */

/** Generous bound on pixels per file byte (LZW's worst case is ~2730:1). */
const MAX_RATIO = 4096;

/**
 * geotiff's LZW decoder grows a plain JS array without bound on corrupt input (it aborted the
 * whole process with "invalid size error" in our fuzz test), so LZW and PackBits blocks use our
 * decoders, which write into a buffer of the block's exact size. geotiff still applies the
 * predictor (via `BaseDecoder.decode`).
 */
class BoundedDecoder extends BaseDecoder {
  readonly #compression: number;

  constructor(compression: number, parameters: BaseDecoderParameters) {
    super(parameters);
    this.#compression = compression;
  }

  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    const { tileWidth, tileHeight, bitsPerSample } = this.parameters;
    const bits = typeof bitsPerSample === 'number' ? bitsPerSample : Math.max(...Array.from(bitsPerSample));
    const out = new Uint8Array(tileWidth * tileHeight * Math.ceil(bits / 8));
    const src = new Uint8Array(buffer);
    if (this.#compression === COMPRESSION.lzw) lzwDecode(src, out);
    else packbitsDecode(src, out);
    return out.buffer;
  }
}

/**
 * Stands in for geotiff's worker `Pool` (only `bindParameters` is called), so decoding stays on
 * the caller's thread — already a worker when it matters — and LZW/PackBits use `BoundedDecoder`.
 */
const inThreadDecoders = {
  bindParameters(compression: number, parameters: BaseDecoderParameters): { decode(buffer: ArrayBufferLike): Promise<ArrayBufferLike> } {
    if (compression === COMPRESSION.lzw || compression === COMPRESSION.packbits) return new BoundedDecoder(compression, parameters);
    return { decode: async (buffer) => (await getDecoder(compression, parameters)).decode(buffer) };
  },
} as unknown as Pool;

async function readPlane(image: GeoTIFFImage, signal: AbortSignal | undefined): Promise<unknown> {
  return image.readRasters({ samples: [0], interleave: true, pool: inThreadDecoders, ...(signal ? { signal } : {}) });
}

export async function decodeWithGeotiff(bytes: Uint8Array, file: string, signal: AbortSignal | undefined): Promise<ImageStack> {
  // geotiff wants an ArrayBuffer holding exactly the file.
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const buffer = owned ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  const tiff = await fromArrayBuffer(buffer, signal);
  const count = await tiff.getImageCount();
  const planes: PixelArray[] = [];
  let width = 0;
  let height = 0;
  let dtype: DType | undefined;
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) throw new AbortError(signal.reason);
    const image = await tiff.getImage(i);
    const subfileType = Number(image.getFileDirectory().getValue('NewSubfileType') ?? 0);
    if ((subfileType & 1) === 1) continue; // pyramid level or thumbnail, as on the fast path
    const spp = image.getSamplesPerPixel();
    if (spp !== 1) throw new TiffError(file, `unsupported sample layout: page ${i} has ${spp} samples per pixel (${SUPPORTED_LAYOUTS})`);
    const w = image.getWidth();
    const h = image.getHeight();
    // Same guard as the fast path: a corrupt size must not make geotiff allocate gigabytes.
    const [tw, th] = [image.getTileWidth(), image.getTileHeight()];
    for (const [what, pw, ph] of [['page', w, h], ['tile', tw, th]] as const) {
      if (pw * ph > bytes.byteLength * MAX_RATIO + 2 ** 20) {
        throw new TiffError(file, `corrupt: ${what} size ${pw}×${ph} of page ${i} is far more than ${bytes.byteLength} bytes can encode`);
      }
    }
    // geotiff does per-tile work in JS objects; a corrupt tile size of 1×1 would need millions.
    // Every tile or strip has an offset entry of at least 4 bytes, which bounds the honest count.
    const blocks = Math.ceil(w / tw) * Math.ceil(h / th);
    if (!(blocks * 4 <= bytes.byteLength)) {
      throw new TiffError(file, `corrupt: page ${i} would need ${blocks} tiles or strips, more than ${bytes.byteLength} bytes can index`);
    }
    const raster = await readPlane(image, signal);
    const plane = asPixelArray(raster, i, file);
    const d = dtypeOf(plane);
    if (dtype === undefined) {
      [width, height, dtype] = [w, h, d];
    } else if (w !== width || h !== height || d !== dtype) {
      throw new TiffError(file, `page ${i} is ${w}×${h} ${d} but the first page is ${width}×${height} ${dtype}; all pages must share size and dtype`);
    }
    planes.push(plane);
  }
  if (dtype === undefined) throw new TiffError(file, 'no full-resolution image in file');
  const size = width * height;
  const data = allocate(dtype, size * planes.length);
  planes.forEach((p, i) => (data as Uint8Array).set(p as Uint8Array, i * size));
  return { dtype, shape: [planes.length, height, width], data };
}

function asPixelArray(raster: unknown, page: number, file: string): PixelArray {
  if (
    raster instanceof Uint8Array ||
    raster instanceof Uint16Array ||
    raster instanceof Uint32Array ||
    raster instanceof Int32Array ||
    raster instanceof Float32Array
  ) {
    return raster;
  }
  const kind = (raster as { constructor?: { name?: string } })?.constructor?.name ?? typeof raster;
  throw new TiffError(file, `unsupported sample layout: page ${page} decodes to ${kind} (${SUPPORTED_LAYOUTS})`);
}
