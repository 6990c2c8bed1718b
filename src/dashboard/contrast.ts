/**
 * How a plane becomes an 8-bit thumbnail, in the order the dashboard applies it:
 *
 * 1. **Percentiles** of the whole plane (every pixel, before any shrinking): the value at index
 *    `floor(p / 100 × (n − 1))` of the sorted pixels (nearest rank), for `low` and `high`
 *    (0.5 and 99.5 by default). NaN pixels are left out.
 * 2. **Shrink** so the longer side is at most `maxSide`: the plane is cut into `k × k` blocks,
 *    `k = ceil(longer side / maxSide)`, and each block becomes the mean of its pixels (blocks on
 *    the right and bottom edges may be smaller). `k = 1` keeps every pixel.
 * 3. **Stretch**: `round(255 × (v − lo) / (hi − lo))`, clamped to 0…255; when `hi ≤ lo` (a flat
 *    plane) a pixel is 255 above `lo` and 0 otherwise.
 *
 * @module
 */
import type { PixelArray } from '../image.js';

export interface Stretch {
  /** Percentiles in 0…100, `low < high`. @defaultValue 0.5 and 99.5 */
  readonly low: number;
  readonly high: number;
}

export const DEFAULT_STRETCH: Stretch = { low: 0.5, high: 99.5 };

/** The values at the `low` and `high` percentiles (nearest rank) of `data`, NaN excluded. */
export function percentiles(data: PixelArray, stretch: Stretch): { lo: number; hi: number } {
  // A sorted copy: planes are a few megapixels at most, and typed-array sort is numeric and fast.
  const sorted = data instanceof Float32Array ? Float32Array.from(data.filter((v) => !Number.isNaN(v))) : data.slice();
  sorted.sort();
  const n = sorted.length;
  if (n === 0) return { lo: 0, hi: 0 };
  const at = (p: number) => sorted[Math.floor((p / 100) * (n - 1))]!;
  return { lo: at(stretch.low), hi: at(stretch.high) };
}

/** Steps 2 and 3 above: a `width × height` plane to 8-bit pixels at most `maxSide` on a side. */
export function renderPlane(data: PixelArray, width: number, height: number, range: { lo: number; hi: number }, maxSide: number): { pixels: Uint8Array; width: number; height: number } {
  const k = Math.max(1, Math.ceil(Math.max(width, height) / Math.max(1, maxSide)));
  const w = Math.ceil(width / k);
  const h = Math.ceil(height / k);
  const pixels = new Uint8Array(w * h);
  const { lo, hi } = range;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let by = 0; by < h; by++) {
    for (let bx = 0; bx < w; bx++) {
      let sum = 0;
      let count = 0;
      for (let y = by * k; y < Math.min(height, (by + 1) * k); y++) {
        for (let x = bx * k; x < Math.min(width, (bx + 1) * k); x++) {
          const v = data[y * width + x]!;
          if (Number.isNaN(v)) continue;
          sum += v;
          count++;
        }
      }
      const v = count > 0 ? sum / count : lo;
      pixels[by * w + bx] = scale > 0 ? Math.min(255, Math.max(0, Math.round((v - lo) * scale))) : v > lo ? 255 : 0;
    }
  }
  return { pixels, width: w, height: h };
}

/**
 * Percentiles from a query string: numbers in 0…100 with `low < high`; anything else gives the
 * default (a contrast control never fails a thumbnail).
 */
export function parseStretch(low: string | null, high: string | null): Stretch {
  const l = low === null ? DEFAULT_STRETCH.low : Number(low);
  const h = high === null ? DEFAULT_STRETCH.high : Number(high);
  return Number.isFinite(l) && Number.isFinite(h) && l >= 0 && h <= 100 && l < h ? { low: l, high: h } : DEFAULT_STRETCH;
}
