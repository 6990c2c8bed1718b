// plateflow WebAssembly kernels (AssemblyScript, compiled with SIMD by scripts/build-wasm.mjs).
//
// Memory is managed by the host (src/processing/wasm.ts): it grows the exported memory and passes
// byte offsets at or above heapBase(). Nothing here allocates.
//
// Gaussian: the exact arithmetic of scipy.ndimage.gaussian_filter on float32 input — every output
// pixel is accumulated in float64 as centre·w0 + Σ_{j=r..1} (x[-j] + x[+j])·wj and rounded once to
// float32 per axis — done two pixels per f64x2 lane pair. IEEE add/mul per lane are the same
// operations as the scalar code, so the results are bit-identical to the JS kernel (and to SciPy);
// no fused multiply-add is used because it would change the rounding.

/** First byte the host may use (16-byte aligned). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

// @ts-ignore: decorator
@inline function reflect(i: i32, n: i32): i32 {
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// @ts-ignore: decorator
@inline function loadPromote(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

// @ts-ignore: decorator
@inline function storeDemote(p: usize, v: v128): void {
  v128.store64_lane(p, f32x4.demote_f64x2_zero(v), 0);
}

/**
 * Axis 0 (down the columns): src and dst are h×w float32 planes (they must not overlap); wts holds
 * r + 1 float64 weights (w[0] centre … w[r]); rowTab is scratch for 2·r int32 row offsets.
 */
export function gaussAxis0(src: usize, dst: usize, h: i32, w: i32, wts: usize, r: i32, rowTab: usize): void {
  const w0 = f64x2.splat(load<f64>(wts));
  const w0s = load<f64>(wts);
  const stride = <usize>w << 2;
  for (let y = 0; y < h; y++) {
    // Byte offsets of the rows y - j and y + j, j = r..1, in the order they are summed.
    for (let j = r, k = 0; j >= 1; j--, k++) {
      store<u32>(rowTab + (<usize>k << 3), <u32>(<usize>reflect(y - j, h) * stride));
      store<u32>(rowTab + (<usize>k << 3) + 4, <u32>(<usize>reflect(y + j, h) * stride));
    }
    const row = src + <usize>y * stride;
    const out = dst + <usize>y * stride;
    let x = 0;
    for (; x + 8 <= w; x += 8) {
      const bx = <usize>x << 2;
      let a0 = f64x2.mul(loadPromote(row + bx), w0);
      let a1 = f64x2.mul(loadPromote(row + bx + 8), w0);
      let a2 = f64x2.mul(loadPromote(row + bx + 16), w0);
      let a3 = f64x2.mul(loadPromote(row + bx + 24), w0);
      for (let k = 0; k < r; k++) {
        const t = rowTab + (<usize>k << 3);
        const pa = src + <usize>load<u32>(t) + bx;
        const pb = src + <usize>load<u32>(t, 4) + bx;
        const wj = v128.load64_splat(wts + (<usize>(r - k) << 3));
        a0 = f64x2.add(a0, f64x2.mul(f64x2.add(loadPromote(pa), loadPromote(pb)), wj));
        a1 = f64x2.add(a1, f64x2.mul(f64x2.add(loadPromote(pa + 8), loadPromote(pb + 8)), wj));
        a2 = f64x2.add(a2, f64x2.mul(f64x2.add(loadPromote(pa + 16), loadPromote(pb + 16)), wj));
        a3 = f64x2.add(a3, f64x2.mul(f64x2.add(loadPromote(pa + 24), loadPromote(pb + 24)), wj));
      }
      storeDemote(out + bx, a0);
      storeDemote(out + bx + 8, a1);
      storeDemote(out + bx + 16, a2);
      storeDemote(out + bx + 24, a3);
    }
    for (; x < w; x++) {
      const bx = <usize>x << 2;
      let s: f64 = <f64>load<f32>(row + bx) * w0s;
      for (let k = 0; k < r; k++) {
        const t = rowTab + (<usize>k << 3);
        const va = <f64>load<f32>(src + <usize>load<u32>(t) + bx);
        const vb = <f64>load<f32>(src + <usize>load<u32>(t, 4) + bx);
        s += (va + vb) * load<f64>(wts + (<usize>(r - k) << 3));
      }
      store<f32>(out + bx, <f32>s);
    }
  }
}

/**
 * Axis 1 (along the rows): each row of src (float32) is copied into `line` (float64, w + 2·r
 * entries) with 'reflect' padding, then summed two outputs per f64x2.
 */
export function gaussAxis1(src: usize, dst: usize, h: i32, w: i32, wts: usize, r: i32, line: usize): void {
  const w0 = f64x2.splat(load<f64>(wts));
  const w0s = load<f64>(wts);
  const stride = <usize>w << 2;
  const padded = w + 2 * r;
  for (let y = 0; y < h; y++) {
    const row = src + <usize>y * stride;
    const out = dst + <usize>y * stride;
    for (let k = 0; k < r; k++) {
      store<f64>(line + (<usize>k << 3), <f64>load<f32>(row + (<usize>reflect(k - r, w) << 2)));
    }
    let x = 0;
    for (; x + 4 <= w; x += 4) {
      const v = v128.load(row + (<usize>x << 2));
      const p = line + (<usize>(x + r) << 3);
      v128.store(p, f64x2.promote_low_f32x4(v));
      v128.store(p + 16, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
    }
    for (; x < w; x++) store<f64>(line + (<usize>(x + r) << 3), <f64>load<f32>(row + (<usize>x << 2)));
    for (let k = w + r; k < padded; k++) {
      store<f64>(line + (<usize>k << 3), <f64>load<f32>(row + (<usize>reflect(k - r, w) << 2)));
    }
    x = 0;
    const jr = <usize>r << 3;
    for (; x + 8 <= w; x += 8) {
      const c = line + (<usize>x << 3) + jr;
      let a0 = f64x2.mul(v128.load(c), w0);
      let a1 = f64x2.mul(v128.load(c, 16), w0);
      let a2 = f64x2.mul(v128.load(c, 32), w0);
      let a3 = f64x2.mul(v128.load(c, 48), w0);
      for (let j = r; j >= 1; j--) {
        const dj = <usize>j << 3;
        const pl = c - dj;
        const pr = c + dj;
        const wj = v128.load64_splat(wts + dj);
        a0 = f64x2.add(a0, f64x2.mul(f64x2.add(v128.load(pl), v128.load(pr)), wj));
        a1 = f64x2.add(a1, f64x2.mul(f64x2.add(v128.load(pl, 16), v128.load(pr, 16)), wj));
        a2 = f64x2.add(a2, f64x2.mul(f64x2.add(v128.load(pl, 32), v128.load(pr, 32)), wj));
        a3 = f64x2.add(a3, f64x2.mul(f64x2.add(v128.load(pl, 48), v128.load(pr, 48)), wj));
      }
      const o = out + (<usize>x << 2);
      storeDemote(o, a0);
      storeDemote(o + 8, a1);
      storeDemote(o + 16, a2);
      storeDemote(o + 24, a3);
    }
    for (; x < w; x++) {
      const c = line + (<usize>x << 3) + jr;
      let s: f64 = load<f64>(c) * w0s;
      for (let j = r; j >= 1; j--) {
        const dj = <usize>j << 3;
        s += (load<f64>(c - dj) + load<f64>(c + dj)) * load<f64>(wts + dj);
      }
      store<f32>(out + (<usize>x << 2), <f32>s);
    }
  }
}

/**
 * Both axes, scipy order: src → tmp (axis 0) → dst (axis 1). src and dst may be the same region.
 * scratch needs 8·(w + 2·r) + 8·r bytes.
 */
export function gaussian2d(src: usize, tmp: usize, dst: usize, h: i32, w: i32, wts: usize, r: i32, scratch: usize): void {
  gaussAxis0(src, tmp, h, w, wts, r, scratch);
  gaussAxis1(tmp, dst, h, w, wts, r, scratch);
}

// ---- Otsu on float32: numpy.histogram's exact float32 binning ------------------------------------

/** Minimum and maximum of n float32 values, stored as two f32 at `out` (NaN propagates). */
export function minMaxF32(src: usize, n: i32, out: usize): void {
  let vmin = f32x4.splat(load<f32>(src));
  let vmax = vmin;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(src + (<usize>i << 2));
    vmin = f32x4.min(vmin, v);
    vmax = f32x4.max(vmax, v);
  }
  let mn = min(min(f32x4.extract_lane(vmin, 0), f32x4.extract_lane(vmin, 1)), min(f32x4.extract_lane(vmin, 2), f32x4.extract_lane(vmin, 3)));
  let mx = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; i < n; i++) {
    const v = load<f32>(src + (<usize>i << 2));
    mn = min(mn, v);
    mx = max(mx, v);
  }
  store<f32>(out, mn);
  store<f32>(out, mx, 4);
}

// @ts-ignore: decorator
@inline function binOf(x: f32, lo: f32, norm: f32, edges: usize, nbins: i32): usize {
  const last = nbins - 1;
  let k = <i32>((x - lo) * norm);
  if (k == nbins) k = last;
  if (x < load<f32>(edges + (<usize>k << 2))) k--;
  if (k != last && x >= load<f32>(edges + (<usize>(k + 1) << 2))) k++;
  return <usize>k << 2;
}

/**
 * counts[k] (u32, nbins entries) = number of values in bin k, binned like numpy.histogram with float32
 * edges: k = trunc(f32(f32(x − lo) · norm)), clamped to the last bin, then moved down when
 * x < edges[k] and up when x ≥ edges[k + 1] (except in the last, closed bin).
 * `sub` is scratch for 4·nbins u32: neighbouring pixels usually share a bin, so four interleaved
 * sub-histograms keep the increments from waiting on each other.
 */
export function histF32(src: usize, n: i32, edges: usize, nbins: i32, lo: f32, norm: f32, counts: usize, sub: usize): void {
  const stride = <usize>nbins << 2;
  memory.fill(sub, 0, stride << 2);
  const h0 = sub;
  const h1 = sub + stride;
  const h2 = sub + 2 * stride;
  const h3 = sub + 3 * stride;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = src + (<usize>i << 2);
    const b0 = h0 + binOf(load<f32>(p), lo, norm, edges, nbins);
    const b1 = h1 + binOf(load<f32>(p, 4), lo, norm, edges, nbins);
    const b2 = h2 + binOf(load<f32>(p, 8), lo, norm, edges, nbins);
    const b3 = h3 + binOf(load<f32>(p, 12), lo, norm, edges, nbins);
    store<u32>(b0, load<u32>(b0) + 1);
    store<u32>(b1, load<u32>(b1) + 1);
    store<u32>(b2, load<u32>(b2) + 1);
    store<u32>(b3, load<u32>(b3) + 1);
  }
  for (; i < n; i++) {
    const b = h0 + binOf(load<f32>(src + (<usize>i << 2)), lo, norm, edges, nbins);
    store<u32>(b, load<u32>(b) + 1);
  }
  for (let k: usize = 0; k < stride; k += 4) {
    store<u32>(counts + k, load<u32>(h0 + k) + load<u32>(h1 + k) + load<u32>(h2 + k) + load<u32>(h3 + k));
  }
}

/** dst[i] = src[i] > t ? 1 : 0 for n float32 values; dst is uint8. */
export function maskGtF32(src: usize, n: i32, t: f32, dst: usize): void {
  const vt = f32x4.splat(t);
  const one = i8x16.splat(1);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = src + (<usize>i << 2);
    const m0 = f32x4.gt(v128.load(p), vt);
    const m1 = f32x4.gt(v128.load(p, 16), vt);
    const m2 = f32x4.gt(v128.load(p, 32), vt);
    const m3 = f32x4.gt(v128.load(p, 48), vt);
    const b = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3));
    v128.store(dst + <usize>i, v128.and(b, one));
  }
  for (; i < n; i++) store<u8>(dst + <usize>i, load<f32>(src + (<usize>i << 2)) > t ? 1 : 0);
}

// ---- Maximum projection -------------------------------------------------------------------------

/** dst[i] = max(dst[i], src[i]) for `size` uint16 values (one plane folded into the running max). */
export function maxIntoU16(dst: usize, src: usize, size: i32): void {
  const bytes = <usize>size << 1;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, i16x8.max_u(v128.load(dst + i), v128.load(src + i)));
  for (; i < bytes; i += 2) store<u16>(dst + i, max(load<u16>(dst + i), load<u16>(src + i)));
}

/** dst[i] = max(dst[i], src[i]) for `size` uint8 values. */
export function maxIntoU8(dst: usize, src: usize, size: i32): void {
  const bytes = <usize>size;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, i8x16.max_u(v128.load(dst + i), v128.load(src + i)));
  for (; i < bytes; i++) store<u8>(dst + i, max(load<u8>(dst + i), load<u8>(src + i)));
}

// ---- Gaussian in float32 arithmetic (f32x4): faster, NOT bit-identical to SciPy -------------------
//
// Same structure as gaussian2d, but products and sums are rounded to float32 at every step, so
// results differ from SciPy by a few float32 ulps. Kept for benchmarks (bench/kernels.mjs) to show
// what exactness costs; the built-in gaussian_blur does not use it.

/** wts32: r + 1 float32 weights; line32: scratch for w + 2·r float32 plus 8·r bytes of row table. */
export function gaussian2dF32(src: usize, tmp: usize, dst: usize, h: i32, w: i32, wts32: usize, r: i32, scratch: usize): void {
  const stride = <usize>w << 2;
  const w0 = f32x4.splat(load<f32>(wts32));
  const w0s = load<f32>(wts32);
  const rowTab = scratch;
  for (let y = 0; y < h; y++) {
    for (let j = r, k = 0; j >= 1; j--, k++) {
      store<u32>(rowTab + (<usize>k << 3), <u32>(<usize>reflect(y - j, h) * stride));
      store<u32>(rowTab + (<usize>k << 3) + 4, <u32>(<usize>reflect(y + j, h) * stride));
    }
    const row = src + <usize>y * stride;
    const out = tmp + <usize>y * stride;
    let x = 0;
    for (; x + 16 <= w; x += 16) {
      const bx = <usize>x << 2;
      let a0 = f32x4.mul(v128.load(row + bx), w0);
      let a1 = f32x4.mul(v128.load(row + bx, 16), w0);
      let a2 = f32x4.mul(v128.load(row + bx, 32), w0);
      let a3 = f32x4.mul(v128.load(row + bx, 48), w0);
      for (let k = 0; k < r; k++) {
        const t = rowTab + (<usize>k << 3);
        const pa = src + <usize>load<u32>(t) + bx;
        const pb = src + <usize>load<u32>(t, 4) + bx;
        const wj = v128.load32_splat(wts32 + (<usize>(r - k) << 2));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.add(v128.load(pa), v128.load(pb)), wj));
        a1 = f32x4.add(a1, f32x4.mul(f32x4.add(v128.load(pa, 16), v128.load(pb, 16)), wj));
        a2 = f32x4.add(a2, f32x4.mul(f32x4.add(v128.load(pa, 32), v128.load(pb, 32)), wj));
        a3 = f32x4.add(a3, f32x4.mul(f32x4.add(v128.load(pa, 48), v128.load(pb, 48)), wj));
      }
      v128.store(out + bx, a0);
      v128.store(out + bx, a1, 16);
      v128.store(out + bx, a2, 32);
      v128.store(out + bx, a3, 48);
    }
    for (; x < w; x++) {
      const bx = <usize>x << 2;
      let s: f32 = load<f32>(row + bx) * w0s;
      for (let k = 0; k < r; k++) {
        const t = rowTab + (<usize>k << 3);
        s += (load<f32>(src + <usize>load<u32>(t) + bx) + load<f32>(src + <usize>load<u32>(t, 4) + bx)) * load<f32>(wts32 + (<usize>(r - k) << 2));
      }
      store<f32>(out + bx, s);
    }
  }
  const line = scratch;
  for (let y = 0; y < h; y++) {
    const row = tmp + <usize>y * stride;
    const out = dst + <usize>y * stride;
    for (let k = 0; k < w + 2 * r; k++) store<f32>(line + (<usize>k << 2), load<f32>(row + (<usize>reflect(k - r, w) << 2)));
    let x = 0;
    const jr = <usize>r << 2;
    for (; x + 16 <= w; x += 16) {
      const c = line + (<usize>x << 2) + jr;
      let a0 = f32x4.mul(v128.load(c), w0);
      let a1 = f32x4.mul(v128.load(c, 16), w0);
      let a2 = f32x4.mul(v128.load(c, 32), w0);
      let a3 = f32x4.mul(v128.load(c, 48), w0);
      for (let j = r; j >= 1; j--) {
        const dj = <usize>j << 2;
        const pl = c - dj;
        const pr = c + dj;
        const wj = v128.load32_splat(wts32 + dj);
        a0 = f32x4.add(a0, f32x4.mul(f32x4.add(v128.load(pl), v128.load(pr)), wj));
        a1 = f32x4.add(a1, f32x4.mul(f32x4.add(v128.load(pl, 16), v128.load(pr, 16)), wj));
        a2 = f32x4.add(a2, f32x4.mul(f32x4.add(v128.load(pl, 32), v128.load(pr, 32)), wj));
        a3 = f32x4.add(a3, f32x4.mul(f32x4.add(v128.load(pl, 48), v128.load(pr, 48)), wj));
      }
      const o = out + (<usize>x << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; x < w; x++) {
      const c = line + (<usize>x << 2) + jr;
      let s: f32 = load<f32>(c) * w0s;
      for (let j = r; j >= 1; j--) {
        const dj = <usize>j << 2;
        s += (load<f32>(c - dj) + load<f32>(c + dj)) * load<f32>(wts32 + dj);
      }
      store<f32>(out + (<usize>x << 2), s);
    }
  }
}

// ---- Connected components (run-length union-find, scipy.ndimage.label numbering) -----------------
//
// The same algorithm as labelRuns in src/processing/label.ts, on a uint8 mask (nonzero =
// foreground): runs of each row join the touching runs of the previous row, unions keep the
// smaller run id, so the final numbers follow the raster order of each component's first pixel.
// Arrays are u32 indexed by run id; run ids start at 1.

// @ts-ignore: decorator
@inline function at(base: usize, i: u32): usize {
  return base + (<usize>i << 2);
}

// @ts-ignore: decorator
@inline function findRoot(parent: usize, x: u32): u32 {
  let r = x;
  while (load<u32>(at(parent, r)) != r) r = load<u32>(at(parent, r));
  while (load<u32>(at(parent, x)) != r) {
    const next = load<u32>(at(parent, x));
    store<u32>(at(parent, x), r);
    x = next;
  }
  return r;
}

// @ts-ignore: decorator
@inline function unite(parent: usize, a: u32, b: u32): u32 {
  const ra = findRoot(parent, a);
  const rb = findRoot(parent, b);
  if (ra == rb) return ra;
  if (ra < rb) {
    store<u32>(at(parent, rb), ra);
    return ra;
  }
  store<u32>(at(parent, ra), rb);
  return rb;
}

/** First x ≥ from in the row whose byte is nonzero (w if none), 16 bytes at a time. */
// @ts-ignore: decorator
@inline function nextForeground(row: usize, from: i32, w: i32): i32 {
  let x = from;
  while (x + 16 <= w && !v128.any_true(v128.load(row + <usize>x))) x += 16;
  while (x < w && load<u8>(row + <usize>x) == 0) x++;
  return x;
}

/**
 * Labels the h×w uint8 `mask` into `out` (u32, 0 = background) and returns the component count.
 * Scratch: start, end, parent hold maxRuns = h·⌈w/2⌉ + 1 u32 each; rowFirst holds h + 1.
 */
export function labelU8(mask: usize, h: i32, w: i32, eight: i32, out: usize, start: usize, end: usize, parent: usize, rowFirst: usize): u32 {
  const slack: u32 = eight != 0 ? 1 : 0;
  let runs: u32 = 1;
  let prevFirst: u32 = 1;
  let prevEnd: u32 = 1;
  for (let y = 0; y < h; y++) {
    const row = mask + <usize>y * <usize>w;
    store<u32>(at(rowFirst, y), runs);
    let p = prevFirst;
    let x = 0;
    while (x < w) {
      x = nextForeground(row, x, w);
      if (x == w) break;
      const s = <u32>x;
      while (x < w && load<u8>(row + <usize>x) != 0) x++;
      const e = <u32>x;
      const id = runs++;
      store<u32>(at(start, id), s);
      store<u32>(at(end, id), e);
      store<u32>(at(parent, id), id);
      // Previous-row runs ending (exclusive) at or before s − slack cannot touch this or later runs.
      while (p < prevEnd && load<u32>(at(end, p)) + slack <= s) p++;
      let q = p;
      let label: u32 = 0;
      while (q < prevEnd && load<u32>(at(start, q)) < e + slack) {
        label = label == 0 ? findRoot(parent, q) : unite(parent, label, q);
        q++;
      }
      if (label != 0) store<u32>(at(parent, id), label);
      if (q > p) p = q - 1;
    }
    prevFirst = load<u32>(at(rowFirst, y));
    prevEnd = runs;
  }
  store<u32>(at(rowFirst, h), runs);
  let count: u32 = 0;
  for (let id: u32 = 1; id < runs; id++) {
    const p = load<u32>(at(parent, id));
    store<u32>(at(parent, id), p == id ? ++count : load<u32>(at(parent, p)));
  }
  memory.fill(out, 0, (<usize>h * <usize>w) << 2);
  for (let y = 0; y < h; y++) {
    const row = out + ((<usize>y * <usize>w) << 2);
    for (let id = load<u32>(at(rowFirst, y)), last = load<u32>(at(rowFirst, y + 1)); id < last; id++) {
      const v = load<u32>(at(parent, id));
      for (let i = load<u32>(at(start, id)), e = load<u32>(at(end, id)); i < e; i++) store<u32>(at(row, i), v);
    }
  }
  return count;
}

/**
 * Pixel count per label of n u32 labels: sizes[l] for 0 < l ≤ max (sizes[0] is left 0), where max
 * is the largest label, returned. Returns −1 (touching nothing) when max ≥ cap, the room in `sizes`.
 */
export function labelSizesU32(labels: usize, n: i32, sizes: usize, cap: u32): i32 {
  let vmax = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) vmax = i32x4.max_u(vmax, v128.load(labels + (<usize>i << 2)));
  let top: u32 = max(max(<u32>i32x4.extract_lane(vmax, 0), <u32>i32x4.extract_lane(vmax, 1)), max(<u32>i32x4.extract_lane(vmax, 2), <u32>i32x4.extract_lane(vmax, 3)));
  for (; i < n; i++) top = max(top, load<u32>(labels + (<usize>i << 2)));
  if (top >= cap) return -1;
  memory.fill(sizes, 0, (<usize>top + 1) << 2);
  i = 0;
  while (i < n) {
    // Background is most pixels: skip four zero labels at a time.
    if (i + 4 <= n && !v128.any_true(v128.load(labels + (<usize>i << 2)))) {
      i += 4;
      continue;
    }
    const l = load<u32>(labels + (<usize>i << 2));
    i++;
    const s = at(sizes, l);
    store<u32>(s, load<u32>(s) + 1);
  }
  store<u32>(sizes, 0);
  return <i32>top;
}
