import type { DType, PixelArray } from '../image.js';
import { scratchU32 } from './scratch.js';

/**
 * Percentiles of one plane with numpy's default method ('linear'): for q in percent, the virtual index
 * v = q/100 · (n − 1) between sorted samples a[⌊v⌋] and a[⌊v⌋+1], interpolated like numpy's `_lerp`
 * (from the nearer end). NaN is not supported. No full sort: integer planes use a counting pass,
 * float32 planes a two-level radix selection, O(n) either way.
 */
export function percentiles(plane: PixelArray, dtype: DType, qs: readonly number[]): number[] {
  const n = plane.length;
  if (n === 0) throw new RangeError('percentile of an empty image');
  for (const q of qs) if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile ${q} is outside [0, 100]`);
  const wanted = new Set<number>();
  for (const q of qs) {
    const lo = Math.floor((q / 100) * (n - 1));
    wanted.add(lo);
    wanted.add(Math.min(lo + 1, n - 1));
  }
  const ranks = [...wanted].sort((a, b) => a - b);
  let values: number[];
  if (dtype === 'uint8' || dtype === 'uint16') values = ranksByCounting(plane as Uint8Array | Uint16Array, dtype === 'uint8' ? 256 : 65536, ranks);
  else if (dtype === 'float32') values = ranksFloat32(plane as Float32Array, ranks);
  else {
    const sorted = Float64Array.from(plane).sort();
    values = ranks.map((r) => sorted[r]!);
  }
  const byRank = new Map<number, number>();
  ranks.forEach((r, i) => byRank.set(r, values[i]!));
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

/** Values at ascending `ranks` (0-based) of integer data, by a histogram over every possible value. */
function ranksByCounting(plane: Uint8Array | Uint16Array, values: number, ranks: readonly number[]): number[] {
  const counts = scratchU32('percentile.counts', values).fill(0);
  for (let i = 0, n = plane.length; i < n; i++) counts[plane[i]!]++;
  const out: number[] = [];
  let seen = 0;
  let k = 0;
  for (let v = 0; v < values && k < ranks.length; v++) {
    seen += counts[v]!;
    while (k < ranks.length && ranks[k]! < seen) {
      out.push(v);
      k++;
    }
  }
  return out;
}

/**
 * Values at ascending `ranks` of float32 data. Each float maps to a 32-bit key with the same order
 * (flip all bits of negatives, the sign bit of positives); a histogram of the top 16 key bits finds
 * the bucket holding each rank, and only that bucket's values are sorted.
 */
function ranksFloat32(plane: Float32Array, ranks: readonly number[]): number[] {
  const n = plane.length;
  const bits = new Uint32Array(plane.buffer, plane.byteOffset, n);
  const counts = scratchU32('percentile.counts', 65536).fill(0);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    counts[((b & 0x80000000 ? ~b : b | 0x80000000) >>> 16) & 0xffff]++;
  }
  const out: number[] = [];
  let seen = 0;
  let k = 0;
  for (let bucket = 0; bucket < 65536 && k < ranks.length; bucket++) {
    const c = counts[bucket]!;
    if (c === 0 || ranks[k]! >= seen + c) {
      seen += c;
      continue;
    }
    const members = new Float32Array(c);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      if ((((b & 0x80000000 ? ~b : b | 0x80000000) >>> 16) & 0xffff) === bucket) members[m++] = plane[i]!;
    }
    members.sort();
    while (k < ranks.length && ranks[k]! < seen + c) out.push(members[ranks[k++]! - seen]!);
    seen += c;
  }
  return out;
}
