import type { z } from 'zod';
import type { Allocate, ImageStack } from '../image.js';

/** What a processing function may know about the images it was given (one entry per input plane). */
export interface FunctionContext {
  readonly components: readonly Readonly<Record<string, string>>[];
  readonly signal?: AbortSignal;
  /** GPU index assigned by the compiler, or null when the step runs on the CPU. */
  readonly gpuId?: number | null;
  /**
   * Where to get large output arrays. Their contents are unspecified (plateflow may recycle an
   * earlier image's array once nothing can read it), so a function must write every element.
   * Absent: allocate as usual.
   */
  readonly allocate?: Allocate;
  /**
   * Compute threads this call may keep busy, its own included (default 1). More than 1 only when
   * no other task waits and the tasks running leave part of the run's CPUs idle; built-ins with a tiled form (`gaussian_blur`) then
   * split large planes across that many threads, with identical output.
   */
  readonly threads?: number;
}

/** Measurements are per output plane: `measurements[i]` describes plane i of `stack`. */
export interface FunctionOutput {
  readonly stack: ImageStack;
  readonly measurements?: readonly Readonly<Record<string, number>>[];
}

export type FunctionResult = ImageStack | FunctionOutput;

export type ImageFunction<K = Record<string, unknown>> = (
  stack: ImageStack,
  kwargs: K,
  ctx: FunctionContext,
) => FunctionResult | Promise<FunctionResult>;

/** A named processing function with the schema its kwargs must satisfy. */
export interface FunctionDefinition<K = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  readonly kwargs: z.ZodType<K>;
  readonly run: ImageFunction<K>;
  /** Needs a GPU; when none is present the compiler uses `cpuFallback` or refuses. */
  readonly gpu?: boolean;
  readonly cpuFallback?: string;
}

export function isFunctionOutput(r: FunctionResult): r is FunctionOutput {
  return 'stack' in r;
}
