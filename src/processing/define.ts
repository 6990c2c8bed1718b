/**
 * Helpers shared by the built-in functions: a typed constructor for `FunctionDefinition`s and the plane
 * loop most functions are made of.
 */
import type { z } from 'zod';
import type { ImageStack } from '../image.js';
import type { FunctionContext, FunctionDefinition, FunctionResult } from './types.js';

export interface FunctionSpec<S extends z.ZodType<Record<string, unknown>>> {
  readonly name: string;
  readonly description: string;
  readonly kwargs: S;
  readonly run: (stack: ImageStack, kwargs: z.output<S>, ctx: FunctionContext) => FunctionResult | Promise<FunctionResult>;
}

/**
 * Builds a frozen `FunctionDefinition` whose `run` is typed by its own schema. The result is widened to
 * `FunctionDefinition` (kwargs as a record) so definitions with different schemas fit one registry list;
 * that is sound because callers must pass kwargs through `kwargs.parse` (see `parseKwargs`) first.
 */
export function defineFunction<S extends z.ZodType<Record<string, unknown>>>(spec: FunctionSpec<S>): FunctionDefinition {
  return Object.freeze({ ...spec }) as unknown as FunctionDefinition;
}

/** Throws the abort reason when the step was cancelled; called between planes, never inside pixel loops. */
export function checkAborted(ctx: FunctionContext | undefined): void {
  ctx?.signal?.throwIfAborted();
}

export function planeSize(stack: ImageStack): number {
  return stack.shape[1] * stack.shape[2];
}
