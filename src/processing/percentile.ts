import type { DType, PixelArray } from '../image.js';

/**
 * Percentiles of one plane with numpy's default method ('linear'): for q in percent, the virtual index
 * v = q/100 · (n − 1) between sorted samples a[⌊v⌋] and a[⌊v⌋+1], interpolated like numpy's `_lerp`
 * (from the nearer end). Integer planes use a counting pass instead of a sort. NaN is not supported.
 */
export function percentiles(plane: PixelArray, dtype: DType, qs: readonly number[]): number[] {
  const n = plane.length;
  if (n === 0) throw new RangeError('percentile of an empty image');
  for (const q of qs) if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile ${q} is outside [0, 100]`);
  const ranks = new Set<number>();
  for (const q of qs) {
    const v = (q / 100) * (n - 1);
    const lo = Math.floor(v);
    ranks.add(lo);
    ranks.add(Math.min(lo + 1, n - 1));
  }
  const byRank = new Map<number, number>();
  if (dtype === 'uint8' || dtype === 'uint16') {
    const counts = new Uint32Array(dtype === 'uint8' ? 256 : 65536);
    for (let i = 0; i < n; i++) counts[plane[i]!]++;
    const sorted = [...ranks].sort((a, b) => a - b);
    let k = 0;
    let seen = 0;
    for (let value = 0; value < counts.length && k < sorted.length; value++) {
      seen += counts[value]!;
      while (k < sorted.length && sorted[k]! < seen) byRank.set(sorted[k++]!, value);
    }
  } else {
    const copy = plane instanceof Float32Array ? Float32Array.from(plane) : Float64Array.from(plane);
    copy.sort();
    for (const r of ranks) byRank.set(r, copy[r]!);
  }
  return qs.map((q) => {
    const v = (q / 100) * (n - 1);
    const lo = Math.floor(v);
    const t = v - lo;
    const a = byRank.get(lo)!;
    const b = byRank.get(Math.min(lo + 1, n - 1))!;
    const diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
  });
}
