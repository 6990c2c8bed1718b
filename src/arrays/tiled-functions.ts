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
import { allocate, type DType, type ImageStack } from '../image.js';
import { checkAborted } from '../processing/define.js';
import { checkGaussianKernel, gaussianRadius } from '../processing/gaussian.js';
import type { FunctionContext, FunctionDefinition, FunctionResult } from '../processing/types.js';
import { tiledGaussian } from './gaussian.js';
import { kernelLanes, tileMinPixels, type KernelLanes } from './kernel-threads.js';
import type { SharedArray } from './shared-array.js';

/** The tiled form of one function: which stacks it takes, and how it runs them. */
export interface TiledForm<K> {
  readonly accepts: (stack: ImageStack) => boolean;
  readonly run: (stack: ImageStack, kwargs: K, ctx: FunctionContext, lanes: KernelLanes) => Promise<FunctionResult>;
}

/** `def` with its tiled form in front: large accepted stacks go tiled, everything else to `def.run`. */
export function withTiles<K>(def: FunctionDefinition, form: TiledForm<K>): FunctionDefinition {
  return Object.freeze({
    ...def,
    run: (stack: ImageStack, kwargs: Record<string, unknown>, ctx: FunctionContext) => {
      const [, h, w] = stack.shape;
      const lanes = (ctx.threads ?? 1) > 1 && h * w >= tileMinPixels() && form.accepts(stack) ? kernelLanes(ctx.threads!) : undefined;
      return lanes ? form.run(stack, kwargs as K, ctx, lanes) : def.run(stack, kwargs, ctx);
    },
  });
}

/** The stack copied into this worker's shared scratch memory, as a 3-D array [n, h, w]. */
function sharedInput(stack: ImageStack, lanes: KernelLanes): SharedArray {
  const src = lanes.scratch('input', stack.dtype, stack.shape);
  (src.data as { set(a: ArrayLike<number>): void }).set(stack.data);
  return src;
}

/** A result array for the task (from its pool when it has one) holding a copy of `from`. */
function copyOut<D extends DType>(from: SharedArray<D>, ctx: FunctionContext): ImageStack<D> {
  const data = (ctx.allocate ?? allocate)(from.dtype, from.size);
  (data as { set(a: ArrayLike<number>): void }).set(from.data);
  return { dtype: from.dtype, shape: from.shape as [number, number, number], data } as ImageStack<D>;
}

/** Enough tiles per thread to even out uneven progress, each tall enough that its halo stays small. */
function tileRows(h: number, threads: number, radius: number): number {
  return Math.max(Math.ceil(h / (4 * threads)), 4 * radius, 16);
}

export const tiledGaussianForm: TiledForm<{ readonly sigma: number; readonly truncate: number }> = {
  accepts: () => true,
  run: async (stack, kw, ctx, lanes) => {
    checkAborted(ctx);
    checkGaussianKernel('gaussian_blur', 'sigma', kw.sigma, kw.truncate, stack.shape);
    const src = sharedInput(stack, lanes);
    const out = lanes.scratch('output', 'float32', stack.shape);
    const rows = tileRows(stack.shape[1], lanes.concurrency, gaussianRadius(kw.sigma, kw.truncate));
    await tiledGaussian(src, { pool: lanes.pool, concurrency: lanes.concurrency, sigma: kw.sigma, truncate: kw.truncate, tileRows: rows, out, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    return copyOut(out, ctx);
  },
};
