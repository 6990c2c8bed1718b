import { z } from 'zod';
import { PipelineError } from '../errors.js';
import { allocate, type Allocate, type ImageStack } from '../image.js';
import { checkAborted, defineFunction } from './define.js';
import { scratchF32, scratchF64 } from './scratch.js';
import { wasmKernels, wasmRegions } from './wasm.js';

/**
 * Gaussian blur with exactly the semantics of `scipy.ndimage.gaussian_filter(image.astype(float32), sigma)`:
 *
 * - radius r = int(truncate·σ + 0.5), weights exp(-x²/(2σ²)) for x in [-r, r] normalised by their sum
 *   (summed in numpy's pairwise order, so the weights are the same doubles SciPy uses);
 * - separable: axis 0 (down the columns) first, rounded to float32, then axis 1 (along the rows);
 * - each output pixel is accumulated in float64 in SciPy's order: centre·w0, then the symmetric pairs
 *   (x[-j] + x[+j])·wj from the outermost j = r down to j = 1;
 * - boundary 'reflect' (half-sample symmetric, d c b a | a b c d | d c b a), repeated periodically
 *   when the image is shorter than the radius.
 */

/** SciPy's default: the kernel reaches 4 σ either side. */
export const DEFAULT_TRUNCATE = 4.0;

/** SciPy's kernel radius: int(truncate * sigma + 0.5). */
export function gaussianRadius(sigma: number, truncate: number): number {
  return Math.trunc(truncate * sigma + 0.5);
}

/** numpy's pairwise summation (the order `ndarray.sum` uses for float64), for bit-identical weights. */
function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = -0.0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!, r1 = a[start + 1]!, r2 = a[start + 2]!, r3 = a[start + 3]!;
    let r4 = a[start + 4]!, r5 = a[start + 5]!, r6 = a[start + 6]!, r7 = a[start + 7]!;
    let i = 8;
    const end = n - (n % 8);
    for (; i < end; i += 8) {
      const b = start + i;
      r0 += a[b]!; r1 += a[b + 1]!; r2 += a[b + 2]!; r3 += a[b + 3]!;
      r4 += a[b + 4]!; r5 += a[b + 5]!; r6 += a[b + 6]!; r7 += a[b + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.trunc(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/**
 * Half of SciPy's normalised 1-D Gaussian kernel: `w[j]` is the weight at offset ±j, j = 0..radius.
 */
export function gaussianHalfKernel(sigma: number, truncate: number): Float64Array {
  const r = gaussianRadius(sigma, truncate);
  const full = new Float64Array(2 * r + 1);
  const c = -0.5 / (sigma * sigma);
  for (let i = -r; i <= r; i++) full[i + r] = Math.exp(c * (i * i));
  const sum = pairwiseSum(full, 0, full.length);
  const half = new Float64Array(r + 1);
  for (let j = 0; j <= r; j++) half[j] = full[r + j]! / sum;
  return half;
}

/** Index of sample `i` of a line of length `n` under SciPy's 'reflect' extension. */
export function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/**
 * Blurs one float32 plane (h×w, row-major) into `out` (may not alias `src`). `tmp` receives the
 * axis-0 pass and must hold h·w floats; `line` must hold max(w, w + 2·radius) doubles.
 */
export function gaussianPlaneJs(
  src: Float32Array,
  h: number,
  w: number,
  half: Float64Array,
  out: Float32Array,
  tmp: Float32Array,
  line: Float64Array,
): void {
  const r = half.length - 1;
  const w0 = half[0]!;
  // Axis 0: every output row is a weighted sum of whole input rows, so the inner loop runs along x
  // over contiguous memory (and is the loop the WASM kernel vectorises).
  for (let y = 0; y < h; y++) {
    const c = y * w;
    for (let x = 0; x < w; x++) line[x] = src[c + x]! * w0;
    for (let j = r; j >= 1; j--) {
      const a = reflectIndex(y - j, h) * w;
      const b = reflectIndex(y + j, h) * w;
      const wj = half[j]!;
      for (let x = 0; x < w; x++) line[x] += (src[a + x]! + src[b + x]!) * wj;
    }
    for (let x = 0; x < w; x++) tmp[c + x] = line[x]!;
  }
  // Axis 1: copy the row into a reflect-padded double line, then the same symmetric sum along it.
  const acc = line; // reused: padded row lives in `line`, sums go straight to `out`
  for (let y = 0; y < h; y++) {
    const c = y * w;
    for (let k = 0; k < w + 2 * r; k++) acc[k] = tmp[c + reflectIndex(k - r, w)]!;
    for (let x = 0; x < w; x++) {
      const m = x + r;
      let s = acc[m]! * w0;
      for (let j = r; j >= 1; j--) s += (acc[m - j]! + acc[m + j]!) * half[j]!;
      out[c + x] = s;
    }
  }
}

const kernelCache = new Map<string, Float64Array>();

/** The half kernel for (sigma, truncate), memoised (a few entries: pipelines use a handful of sigmas). */
export function cachedHalfKernel(sigma: number, truncate: number): Float64Array {
  const key = `${sigma}/${truncate}`;
  let half = kernelCache.get(key);
  if (!half) {
    if (kernelCache.size >= 64) kernelCache.clear();
    half = gaussianHalfKernel(sigma, truncate);
    kernelCache.set(key, half);
  }
  return half;
}

/**
 * Blurs one h×w plane: `fill` writes the input (as float32) into the block it is handed, the blur
 * runs, and `take` reads the result (valid only during the call). The one place the Gaussian kernel
 * is invoked: `gaussianBlur` calls it per plane and the tile worker (`arrays/workers/gaussian.ts`)
 * per tile, so a tiled blur cannot drift from the untiled one. Runs in the WASM kernel when it is
 * loaded in this thread and the block fits its memory, else in `gaussianPlaneJs` (the same bits).
 */
export function blurPlane(h: number, w: number, half: Float64Array, fill: (block: Float32Array) => void, take: (result: Float32Array) => void, useWasm = true): void {
  const size = h * w;
  const r = half.length - 1;
  const k = useWasm ? wasmKernels() : null;
  // Offsets stay valid only until the next wasmRegions call, so they are derived per call.
  const regions = k ? wasmRegions(k, [4 * size, 4 * size, 8 * (r + 1), 8 * (w + 2 * r) + 8 * r]) : null;
  if (k && regions) {
    const [src, tmp, wts, scratch] = regions as [number, number, number, number];
    new Float64Array(k.memory.buffer, wts, r + 1).set(half);
    const plane = new Float32Array(k.memory.buffer, src, size);
    fill(plane);
    k.gaussian2d(src, tmp, src, h, w, wts, r, scratch); // in place
    take(plane);
    return;
  }
  const block = scratchF32('gaussian.block', size);
  const out = scratchF32('gaussian.out', size);
  fill(block);
  gaussianPlaneJs(block, h, w, half, out, scratchF32('gaussian.tmp', size), scratchF64('gaussian.line', w + 2 * r));
  take(out);
}

function gaussianStack(stack: ImageStack, half: Float64Array, out: Float32Array, signal: AbortSignal | undefined, useWasm: boolean): void {
  const [n, h, w] = stack.shape;
  const size = h * w;
  const data = stack.data;
  for (let p = 0; p < n; p++) {
    signal?.throwIfAborted();
    // TypedArray#set converts uint8/uint16/… to float32 natively: the peer's astype(np.float32).
    blurPlane(h, w, half, (block) => block.set(data.subarray(p * size, (p + 1) * size)), (result) => out.set(result, p * size), useWasm);
  }
}

/**
 * `gaussian_filter(stack[p].astype(float32), sigma, truncate=truncate)` for every plane p, float32 out.
 * Uses the WASM kernel when built (see `kernelBackend()`), else the JS one; both give the same bits.
 */
export function gaussianBlur(stack: ImageStack, sigma: number, truncate = DEFAULT_TRUNCATE, signal?: AbortSignal, alloc: Allocate = allocate): ImageStack<'float32'> {
  const [n, h, w] = stack.shape;
  const half = cachedHalfKernel(sigma, truncate);
  const out = alloc('float32', n * h * w);
  if (out.length === 0) return { dtype: 'float32', shape: [n, h, w], data: out };
  gaussianStack(stack, half, out, signal, true);
  return { dtype: 'float32', shape: [n, h, w], data: out };
}

/** The JS kernel on every plane, whatever `kernelBackend()` says (for comparisons and benchmarks). */
export function gaussianBlurJs(stack: ImageStack, sigma: number, truncate = DEFAULT_TRUNCATE): ImageStack<'float32'> {
  const [n, h, w] = stack.shape;
  const out = new Float32Array(n * h * w);
  gaussianStack(stack, cachedHalfKernel(sigma, truncate), out, undefined, false);
  return { dtype: 'float32', shape: [n, h, w], data: out };
}

/**
 * For benchmarks only: the same blur with float32 arithmetic in the WASM f32x4 kernel. Faster, but
 * not bit-identical to SciPy (a few float32 ulps), so no built-in uses it. Null without the WASM kernels.
 */
export function gaussianBlurF32Wasm(stack: ImageStack, sigma: number, truncate = DEFAULT_TRUNCATE): ImageStack<'float32'> | null {
  const k = wasmKernels();
  if (!k) return null;
  const [n, h, w] = stack.shape;
  const size = h * w;
  const half = cachedHalfKernel(sigma, truncate);
  const r = half.length - 1;
  const scratchBytes = Math.max(8 * r, 4 * (w + 2 * r));
  const regions = wasmRegions(k, [4 * size, 4 * size, 4 * (r + 1), scratchBytes]);
  if (!regions) return null;
  const [src, tmp, wts, scratch] = regions as [number, number, number, number];
  new Float32Array(k.memory.buffer, wts, r + 1).set(half);
  const out = new Float32Array(n * size);
  for (let p = 0; p < n; p++) {
    const plane = new Float32Array(k.memory.buffer, src, size);
    plane.set(stack.data.subarray(p * size, (p + 1) * size));
    k.gaussian2dF32(src, tmp, src, h, w, wts, r, scratch);
    out.set(plane, p * size);
  }
  return { dtype: 'float32', shape: [n, h, w], data: out };
}

/** Kernel radii up to this cost little whatever the image, so they are always allowed. */
const ALWAYS_ALLOWED_RADIUS = 256;

/**
 * Refuses a blur whose kernel is absurdly wide for the image before any work starts: the cost grows
 * with the radius (σ = 100000 ran for minutes), and the reflect extension repeats every 2 × side
 * pixels, so a radius past twice the image's larger side only adds reflected copies of the image.
 *
 * @throws PipelineError E_KWARGS_INVALID naming the function, the kwarg, its value and the image size
 */
export function checkGaussianKernel(fn: string, kwarg: string, sigma: number, truncate: number, shape: ImageStack['shape']): void {
  const [, h, w] = shape;
  const radius = gaussianRadius(sigma, truncate);
  const limit = Math.max(2 * Math.max(h, w), ALWAYS_ALLOWED_RADIUS);
  if (radius <= limit) return;
  const largest = Math.floor((limit / truncate) * 100) / 100;
  throw new PipelineError(
    'E_KWARGS_INVALID',
    `${fn}: kwarg "${kwarg}" = ${sigma} is too large for a ${h}×${w} image: the kernel radius int(truncate × ${kwarg} + 0.5) = ${radius} px exceeds ${limit} px ` +
      `(twice the image's larger side, beyond which the blur only adds reflected copies of the image); use ${kwarg} ≤ ${largest} with truncate ${truncate}`,
    { fn, kwarg, value: sigma, truncate, imageHeight: h, imageWidth: w },
  );
}

export const gaussianBlurKwargs = z.strictObject({
  sigma: z.number().finite().positive(),
  // Weights past 20 σ are below 1e-87, far under what float32 output can show.
  truncate: z.number().finite().positive().max(20).default(DEFAULT_TRUNCATE),
});

export const gaussianBlurFunction = defineFunction({
  name: 'gaussian_blur',
  description:
    'Per-plane Gaussian blur, float32 out; identical to scipy.ndimage.gaussian_filter on float32 input (mode "reflect", radius int(truncate·sigma + 0.5)).',
  kwargs: gaussianBlurKwargs,
  run: (stack, kw, ctx) => {
    checkAborted(ctx);
    checkGaussianKernel('gaussian_blur', 'sigma', kw.sigma, kw.truncate, stack.shape);
    return gaussianBlur(stack, kw.sigma, kw.truncate, ctx.signal, ctx.allocate);
  },
});
