/** The peer pipeline's per-image steps, run through plateflow's built-in function definitions. */
import type { ImageStack } from '../../src/image.js';
import { BUILTIN_FUNCTIONS } from '../../src/processing/builtins.js';
import { parseKwargs } from '../../src/processing/kwargs.js';
import { isFunctionOutput, type FunctionDefinition, type FunctionOutput } from '../../src/processing/types.js';

const byName = new Map(BUILTIN_FUNCTIONS.map((d) => [d.name, d] as const));

export function builtin(name: string): FunctionDefinition {
  const def = byName.get(name);
  if (!def) throw new Error(`no built-in ${name}`);
  return def;
}

/** Runs a built-in synchronously with validated kwargs; every built-in is synchronous. */
export function call(name: string, stack: ImageStack, kwargs: Record<string, unknown> = {}): FunctionOutput {
  const def = builtin(name);
  const result = def.run(stack, parseKwargs(def, kwargs), { components: [] });
  if (result instanceof Promise) throw new Error(`${name} returned a promise`);
  return isFunctionOutput(result) ? result : { stack: result };
}

export interface SegmentResult {
  readonly blurred: ImageStack;
  readonly threshold: number;
  readonly foreground: number;
  readonly labels: number;
  readonly objects: number;
}

/** max_projection → gaussian_blur σ2 → otsu_threshold → label → count_objects(min_size). */
export function peerSegment(stack: ImageStack, connectivity: 4 | 8 = 4, minSize = 20): SegmentResult {
  const proj = call('max_projection', stack).stack;
  const blurred = call('gaussian_blur', proj, { sigma: 2 }).stack;
  const otsu = call('otsu_threshold', blurred);
  let foreground = 0;
  for (const v of otsu.stack.data) foreground += v;
  const lab = call('label', otsu.stack, { connectivity });
  const count = call('count_objects', lab.stack, { min_size: minSize });
  return {
    blurred,
    threshold: otsu.measurements![0]!.otsu_threshold!,
    foreground,
    labels: lab.measurements![0]!.label_count!,
    objects: count.measurements![0]!.object_count!,
  };
}
