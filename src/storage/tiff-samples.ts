import { TiffError } from '../errors.js';
import { allocate, type DType, type PixelArray } from '../image.js';

/**
 * What a read makes of the samples of a multi-sample (RGB, RGBA, multi-channel) TIFF page: one
 * output plane per page, either one sample copied as it is, or the luminance of the first three.
 * Both read paths (strips/tiles here, geotiff's rasters in the fallback) hand their decoded blocks
 * to a `PageWriter`, so selection and weighting exist once.
 *
 * @module
 */

/**
 * Which sample of a multi-sample file to read: its index (0 = red of an RGB file), or `'luminance'`
 * for Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the weights of CellProfiler's ColorToGray),
 * read as float32 (float64 for float64 samples). Single-sample files ignore `'luminance'`.
 */
export type SampleChoice = number | 'luminance';

/** ITU-R BT.601 luma weights for R, G, B. */
export const LUMINANCE_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

export interface SamplePlan {
  /** dtype of the output planes. */
  readonly dtype: DType;
  /** Per sample of the page: its weight in the output, or undefined when it is not read. */
  readonly weights: readonly (number | undefined)[];
  /** True when the output is a weighted sum (luminance) rather than one sample copied. */
  readonly weighted: boolean;
}

/**
 * How to turn pages of `samplesPerPixel` samples of `dtype` into one plane each.
 *
 * @throws TiffError when a multi-sample page is read without a choice, or the choice does not exist.
 */
export function planSamples(samplesPerPixel: number, dtype: DType, choice: SampleChoice | undefined, file: string, page: number): SamplePlan {
  const weights = new Array<number | undefined>(samplesPerPixel).fill(undefined);
  if (samplesPerPixel === 1 && (choice === undefined || choice === 'luminance' || choice === 0)) {
    weights[0] = 1;
    return { dtype, weights, weighted: false };
  }
  if (choice === undefined) {
    throw new TiffError(
      file,
      `page ${page} has ${samplesPerPixel} samples per pixel and no sample was chosen: discovery makes each sample a channel, or read it with { sample: 0..${samplesPerPixel - 1} } or { sample: 'luminance' }`,
    );
  }
  if (choice === 'luminance') {
    if (samplesPerPixel < 3) throw new TiffError(file, `page ${page} has ${samplesPerPixel} samples per pixel; luminance needs 3 (red, green, blue)`);
    LUMINANCE_WEIGHTS.forEach((w, i) => (weights[i] = w));
    return { dtype: dtype === 'float64' ? 'float64' : 'float32', weights, weighted: true };
  }
  if (!Number.isInteger(choice) || choice < 0 || choice >= samplesPerPixel) {
    throw new TiffError(file, `sample ${choice} was asked for, but page ${page} has ${samplesPerPixel} sample${samplesPerPixel === 1 ? '' : 's'} per pixel`);
  }
  weights[choice] = 1;
  return { dtype, weights, weighted: false };
}

/**
 * Collects the decoded blocks of one page into its output plane. A block is `rows` rows of
 * `blockWidth` pixels at (x0, y0), `stride` samples per pixel starting at sample `firstSample`
 * (a chunky block holds all samples, a planar one a single sample); parts beyond the image edge
 * (tile padding) are dropped.
 */
export class PageWriter {
  readonly #plan: SamplePlan;
  readonly #out: PixelArray;
  readonly #width: number;
  readonly #height: number;
  /** Luminance is summed in float64 and rounded once, as numpy's float64 arithmetic would. */
  readonly #sum: Float64Array | undefined;

  constructor(plan: SamplePlan, out: PixelArray, width: number, height: number) {
    this.#plan = plan;
    this.#out = out;
    this.#width = width;
    this.#height = height;
    this.#sum = plan.weighted ? new Float64Array(width * height) : undefined;
  }

  /** True when any of the `count` samples from `firstSample` goes into the output. */
  wants(firstSample: number, count: number): boolean {
    for (let s = firstSample; s < firstSample + count; s++) if (this.#plan.weights[s] !== undefined) return true;
    return false;
  }

  /**
   * Where a block of whole rows of one wanted sample can be decoded straight into the output, as
   * bytes; undefined when it needs `put` (several samples, tiles, luminance).
   */
  directTarget(y0: number, blockWidth: number, rows: number, firstSample: number, stride: number): Uint8Array | undefined {
    if (this.#plan.weighted || stride !== 1 || blockWidth !== this.#width || this.#plan.weights[firstSample] === undefined) return undefined;
    const out = this.#out;
    const bpp = out.BYTES_PER_ELEMENT;
    const start = y0 * this.#width;
    const length = Math.min(rows, this.#height - y0) * this.#width;
    return new Uint8Array(out.buffer, out.byteOffset + start * bpp, length * bpp);
  }

  put(block: PixelArray, blockWidth: number, rows: number, x0: number, y0: number, firstSample: number, stride: number): void {
    const cols = Math.min(blockWidth, this.#width - x0);
    const height = Math.min(rows, this.#height - y0);
    for (let s = firstSample; s < firstSample + stride; s++) {
      const weight = this.#plan.weights[s];
      if (weight === undefined) continue;
      const offset = s - firstSample;
      for (let r = 0; r < height; r++) {
        const src = r * blockWidth * stride + offset;
        const dst = (y0 + r) * this.#width + x0;
        if (this.#sum) {
          const sum = this.#sum;
          for (let c = 0; c < cols; c++) sum[dst + c] = sum[dst + c]! + weight * block[src + c * stride]!;
        } else if (stride === 1) {
          this.#out.set(block.subarray(src, src + cols) as never, dst);
        } else {
          const out = this.#out;
          for (let c = 0; c < cols; c++) out[dst + c] = block[src + c * stride]!;
        }
      }
    }
  }

  /** Writes the luminance sum into the output (a no-op for copied samples). */
  finish(): void {
    if (this.#sum) this.#out.set(this.#sum as never);
  }
}

/** A fresh output stack's data, or a TiffError when the size cannot be allocated. */
export function allocatePlanes(dtype: DType, length: number, file: string): PixelArray {
  try {
    return allocate(dtype, length);
  } catch (err) {
    throw new TiffError(file, `image too large to decode (${length} ${dtype} pixels)`, { cause: err });
  }
}
