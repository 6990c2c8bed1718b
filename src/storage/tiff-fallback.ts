import { BaseDecoder, fromArrayBuffer, getDecoder, type GeoTIFFImage, type Pool } from 'geotiff';
import { AbortError, TiffError } from '../errors.js';
import { dtypeOf, type DType, type ImageStack, type PixelArray } from '../image.js';
import { COMPRESSION, lzwDecode, packbitsDecode } from './tiff-codecs.js';
import { SUPPORTED_LAYOUTS } from './tiff-ifd.js';
import type { ReadTiffOptions } from './tiff-read.js';
import { allocatePlanes, PageWriter, planSamples } from './tiff-samples.js';

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
    const { tileWidth, tileHeight, bitsPerSample, planarConfiguration } = this.parameters;
    const bits = typeof bitsPerSample === 'number' ? [bitsPerSample] : Array.from(bitsPerSample);
    // A chunky block holds every sample of each pixel, a planar one a single sample.
    const pixelBits = planarConfiguration === 2 ? Math.max(...bits) : bits.reduce((a, b) => a + b, 0);
    const out = new Uint8Array(tileWidth * tileHeight * Math.ceil(pixelBits / 8));
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

/**
 * Decode with geotiff. Each page's samples come back as separate planes and go through the same
 * `PageWriter` as the fast path, so a sample choice means the same on both paths.
 */
export async function decodeWithGeotiff(bytes: Uint8Array, file: string, opts: ReadTiffOptions): Promise<ImageStack> {
  const { signal } = opts;
  // geotiff wants an ArrayBuffer holding exactly the file.
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const buffer = owned ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  const tiff = await fromArrayBuffer(buffer, signal);
  const count = await tiff.getImageCount();
  const planes: PixelArray[] = [];
  let first: { width: number; height: number; dtype: DType; spp: number } | undefined;
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) throw new AbortError(signal.reason);
    const image = await tiff.getImage(i);
    const subfileType = Number(image.getFileDirectory().getValue('NewSubfileType') ?? 0);
    if ((subfileType & 1) === 1) continue; // pyramid level or thumbnail, as on the fast path
    const spp = image.getSamplesPerPixel();
    const w = image.getWidth();
    const h = image.getHeight();
    // Same guard as the fast path: a corrupt size must not make geotiff allocate gigabytes.
    const [tw, th] = [image.getTileWidth(), image.getTileHeight()];
    for (const [what, pw, ph] of [['page', w, h], ['tile', tw, th]] as const) {
      if (pw * ph * spp > bytes.byteLength * MAX_RATIO + 2 ** 20) {
        throw new TiffError(file, `corrupt: ${what} size ${pw}×${ph}×${spp} of page ${i} is far more than ${bytes.byteLength} bytes can encode`);
      }
    }
    // geotiff does per-tile work in JS objects; a corrupt tile size of 1×1 would need millions.
    // Every tile or strip has an offset entry of at least 4 bytes, which bounds the honest count.
    const blocks = Math.ceil(w / tw) * Math.ceil(h / th);
    if (!(blocks * 4 <= bytes.byteLength)) {
      throw new TiffError(file, `corrupt: page ${i} would need ${blocks} tiles or strips, more than ${bytes.byteLength} bytes can index`);
    }
    const rasters = (await image.readRasters({ interleave: false, pool: inThreadDecoders, ...(signal ? { signal } : {}) })) as unknown as unknown[];
    const samples = rasters.map((r) => asPixelArray(r, i, file));
    const d = dtypeOf(samples[0]!);
    if (first === undefined) first = { width: w, height: h, dtype: d, spp };
    else if (w !== first.width || h !== first.height || d !== first.dtype || spp !== first.spp) {
      throw new TiffError(file, `page ${i} is ${w}×${h} ${d} × ${spp} samples but the first page is ${first.width}×${first.height} ${first.dtype} × ${first.spp} samples; all pages must share size, dtype and samples per pixel`);
    }
    const plan = planSamples(spp, d, opts.sample, file, i);
    const plane = allocatePlanes(plan.dtype, w * h, file);
    const writer = new PageWriter(plan, plane, w, h);
    samples.forEach((s, k) => writer.put(s, w, h, 0, 0, k, 1));
    writer.finish();
    planes.push(plane);
  }
  if (first === undefined) throw new TiffError(file, 'no full-resolution image in file');
  const size = first.width * first.height;
  const dtype = dtypeOf(planes[0]!);
  const data = allocatePlanes(dtype, size * planes.length, file);
  planes.forEach((p, i) => data.set(p as never, i * size));
  return { dtype, shape: [planes.length, first.height, first.width], data } as ImageStack;
}

function asPixelArray(raster: unknown, page: number, file: string): PixelArray {
  if (
    raster instanceof Uint8Array ||
    raster instanceof Int8Array ||
    raster instanceof Uint16Array ||
    raster instanceof Int16Array ||
    raster instanceof Uint32Array ||
    raster instanceof Int32Array ||
    raster instanceof Float32Array ||
    raster instanceof Float64Array
  ) {
    return raster;
  }
  const kind = (raster as { constructor?: { name?: string } })?.constructor?.name ?? typeof raster;
  throw new TiffError(file, `unsupported sample layout: page ${page} decodes to ${kind} (${SUPPORTED_LAYOUTS})`);
}
