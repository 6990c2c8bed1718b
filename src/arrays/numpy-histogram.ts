/**
 * `numpy.histogram(a, bins)` for float32 data whose range is exactly `[min, max]`, bit for bit as
 * `otsuThreshold` of `processing/otsu.ts` computes it for float images. That module keeps its
 * histogram private (it may run it in WASM), so the same arithmetic is restated here, split so that
 * chunks can count separately and add their counts; `test/arrays-tiled-filters.test.ts` checks that
 * Otsu from these counts equals `otsuThreshold` on the whole image.
 */

/** Bin edges like `np.linspace(min, max, bins + 1, dtype=float32)`: float64 i·step + min, last = max, cast. */
export function numpyF32Edges(min: number, max: number, bins: number): Float32Array {
  const edges = new Float32Array(bins + 1);
  const delta = max - min;
  const step = delta / bins;
  for (let i = 0; i < bins; i++) edges[i] = step === 0 ? (i / bins) * delta + min : i * step + min;
  edges[bins] = max;
  return edges;
}

/** Bin centres (e[i] + e[i+1]) / 2, the sum rounded to float32 as numpy does. */
export function numpyF32Centers(edges: Float32Array): Float64Array {
  const bins = edges.length - 1;
  const centers = new Float64Array(bins);
  for (let i = 0; i < bins; i++) centers[i] = Math.fround(edges[i]! + edges[i + 1]!) / 2;
  return centers;
}

/**
 * Counts of `a[start, end)` into `edges.length − 1` bins: index ⌊(x − min)·norm⌋ in float32 with
 * numpy's ±1 fix-ups against the edges, the last bin closed. Every x must lie in `[min, max]`.
 */
export function numpyF32Histogram(a: Float32Array, start: number, end: number, min: number, max: number, edges: Float32Array): Float64Array {
  const bins = edges.length - 1;
  const lo = Math.fround(min);
  const norm = Math.fround(bins / Math.fround(max - min));
  const counts = new Float64Array(bins);
  const last = bins - 1;
  for (let i = start; i < end; i++) {
    const x = a[i]!;
    let idx = Math.trunc(Math.fround(Math.fround(x - lo) * norm));
    if (idx === bins) idx = last;
    if (x < edges[idx]!) idx--;
    if (idx !== last && x >= edges[idx + 1]!) idx++;
    counts[idx]++;
  }
  return counts;
}
