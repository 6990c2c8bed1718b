/**
 * Built-in functions with a tiled form: for planes of at least `tileMinPixels()` pixels, when the
 * call may use more than one thread (`FunctionContext.threads`, set by the dispatcher when tasks
 * would leave CPUs of the run's budget idle), they run over the worker's chunk threads instead of in
 * the calling thread. The output is byte for byte the untiled one (`test/tiled-builtins.test.ts`),
 * so whether a call tiles changes its speed, never its result.
 *
 * Only `gaussian_blur` has one. Measured on 4096² planes, `tiledOtsu` (three JS passes) is slower on
 * two threads than `otsu_threshold` on one (WASM for float32, one tight JS loop per pass for
 * integers), and `max_projection` is memory-bound: copying the stack into shared memory costs what
 * the projection does. Both stay untiled until they have kernels that make tiling pay.
 */
import { allocate, type ImageStack } from '../image.js';
import { checkAborted } from '../processing/define.js';
import { checkGaussianKernel, gaussianRadius } from '../processing/gaussian.js';
import type { FunctionContext, FunctionDefinition, FunctionResult } from '../processing/types.js';
import { tiledGaussian } from './gaussian.js';
import { kernelLanes, tileMinPixels, type KernelLanes } from './kernel-threads.js';

/** How one function runs over a worker's chunk threads. */
export type TiledForm<K> = (stack: ImageStack, kwargs: K, ctx: FunctionContext, lanes: KernelLanes) => Promise<FunctionResult>;

/** `def` with its tiled form in front: large planes go tiled, everything else to `def.run`. */
export function withTiles<K>(def: FunctionDefinition, form: TiledForm<K>): FunctionDefinition {
  return Object.freeze({
    ...def,
    run: (stack: ImageStack, kwargs: Record<string, unknown>, ctx: FunctionContext) => {
      const [, h, w] = stack.shape;
      const lanes = (ctx.threads ?? 1) > 1 && h * w >= tileMinPixels() ? kernelLanes(ctx.threads!) : undefined;
      return lanes ? form(stack, kwargs as K, ctx, lanes) : def.run(stack, kwargs, ctx);
    },
  });
}

/** Enough tiles per thread to even out uneven progress, each tall enough that its halo stays small. */
function tileRows(h: number, threads: number, radius: number): number {
  return Math.max(Math.ceil(h / (4 * threads)), 4 * radius, 16);
}

export const tiledGaussianForm: TiledForm<{ readonly sigma: number; readonly truncate: number }> = async (stack, kw, ctx, lanes) => {
  checkAborted(ctx);
  checkGaussianKernel('gaussian_blur', 'sigma', kw.sigma, kw.truncate, stack.shape);
  const [n, h, w] = stack.shape;
  const size = h * w;
  const result = (ctx.allocate ?? allocate)('float32', n * size);
  // Plane by plane, so the shared scratch is one plane in and one out whatever the stack's depth.
  const src = lanes.scratch('input', stack.dtype, [h, w]);
  const out = lanes.scratch('output', 'float32', [h, w]);
  const rows = tileRows(h, lanes.concurrency, gaussianRadius(kw.sigma, kw.truncate));
  for (let p = 0; p < n; p++) {
    (src.data as { set(a: ArrayLike<number>): void }).set(stack.data.subarray(p * size, (p + 1) * size));
    await tiledGaussian(src, { pool: lanes.pool, concurrency: lanes.concurrency, sigma: kw.sigma, truncate: kw.truncate, tileRows: rows, out, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    result.set(out.data, p * size);
  }
  return { dtype: 'float32', shape: [n, h, w], data: result };
};
