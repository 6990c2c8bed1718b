/**
 * The messages between a PythonWorker and python/plateflow_bridge.py: one JSON object per line,
 * requests on the child's fd 3, replies on its fd 4. Pixels are never in them, only where they lie
 * in the arena. Replies are checked here, once, so the rest of the code reads typed values.
 */
import { z } from 'zod';
import { DTYPES, type DType } from '../image.js';
import { PythonFunctionError, PythonLoadError, PythonResultError, PythonUnavailableError, type PythonException } from './errors.js';
import type { PythonTarget } from './target.js';

/** Where a stack's bytes lie in the arena (C order, native byte order). */
export interface StackSpec {
  readonly offset: number;
  readonly dtype: DType;
  readonly shape: readonly [number, number, number];
}

/** One function of a chain and its keyword arguments. */
export interface PythonCall {
  readonly target: PythonTarget;
  readonly kwargs: Readonly<Record<string, unknown>>;
}

export type Request =
  /** `output: false`: nothing reads the chain's result, so the bridge checks it but sends no pixels back. */
  | { readonly id: number; readonly op: 'call'; readonly calls: readonly PythonCall[]; readonly input: StackSpec; readonly output: boolean }
  | { readonly id: number; readonly op: 'probe'; readonly targets: readonly PythonTarget[] }
  | { readonly id: number; readonly op: 'load'; readonly targets: readonly PythonTarget[] };

const frame = z.object({ file: z.string(), line: z.number(), function: z.string(), code: z.string() });
const exception = z.object({ type: z.string(), message: z.string(), traceback: z.string().optional(), frames: z.array(frame).optional() });
const extent = z.number().int().positive();
const stackSpec = z.object({ offset: z.number().int().nonnegative(), dtype: z.enum(DTYPES as [DType, ...DType[]]), shape: z.tuple([extent, extent, extent]) });
// JSON has no NaN or infinities: the bridge sends those three as strings.
const measurement = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity']).transform(Number)]);

const envelope = z.object({ id: z.number(), ok: z.boolean() });
const failed = z.object({
  ok: z.literal(false),
  error: z.object({
    kind: z.enum(['load', 'raised', 'result', 'bridge']),
    message: z.string(),
    type: z.string().optional(),
    traceback: z.string().optional(),
    frames: z.array(frame).optional(),
    shape: z.array(z.number()).optional(),
    dtype: z.string().optional(),
    /** Which call of the chain failed; none for a fault of the bridge after the last call. */
    index: z.number().int().nonnegative().optional(),
  }),
});
/** Per call of the chain: how many planes it returned (the next call's input) and its measurements. */
const chainStep = z.object({ planes: extent, measurements: z.array(z.record(z.string(), measurement)).nullable() });
/** `output` is null when the request asked for none. */
const called = z.object({ ok: z.literal(true), output: stackSpec.nullable(), steps: z.array(chainStep).min(1) });
const probed = z.object({
  ok: z.literal(true),
  python: z.string(),
  executable: z.string(),
  numpy: z.string().optional(),
  numpyError: exception.optional(),
  failures: z.array(exception.extend({ index: z.number().int().nonnegative() })),
});

export type CallReply = z.infer<typeof called>;
export type ProbeReply = z.infer<typeof probed>;
type FailedReply = z.infer<typeof failed>;

/** A reply line's id, and the whole object for {@link readReply}; undefined when it is not one. */
export function parseEnvelope(line: string): { readonly id: number; readonly body: unknown } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return undefined;
  }
  const head = envelope.safeParse(body);
  return head.success ? { id: head.data.id, body } : undefined;
}

/**
 * A call's or probe's reply, or the error it reports (thrown).
 * @param refs the "py:" texts of the chain's calls: the error names the one that failed (the last
 *   when the reply does not say)
 * @throws PythonFunctionError, PythonLoadError, PythonResultError, PythonUnavailableError
 */
export function readReply<T>(body: unknown, schema: z.ZodType<T>, refs: readonly string[]): T {
  const failure = failed.safeParse(body);
  if (failure.success) throw replyError(failure.data.error, refs[failure.data.error.index ?? refs.length - 1] ?? refs.join(', '));
  const ok = schema.safeParse(body);
  if (!ok.success) throw new PythonUnavailableError(`the plateflow bridge sent a malformed reply for ${refs.join(', ')}: ${z.prettifyError(ok.error)}`, { fn: refs.join(', ') });
  return ok.data;
}

export const CALL_REPLY: z.ZodType<CallReply> = called;
export const PROBE_REPLY: z.ZodType<ProbeReply> = probed;

function replyError(error: FailedReply['error'], ref: string): Error {
  const report: PythonException = { type: error.type ?? 'Error', message: error.message, ...(error.traceback ? { traceback: error.traceback } : {}), ...(error.frames ? { frames: error.frames } : {}) };
  switch (error.kind) {
    case 'raised':
      return new PythonFunctionError(ref, report);
    case 'load':
      return new PythonLoadError([{ ref, exception: report }]);
    case 'result':
      return new PythonResultError(ref, error.message, { ...(error.shape ? { shape: error.shape } : {}), ...(error.dtype ? { dtype: error.dtype } : {}) });
    case 'bridge':
      return new PythonUnavailableError(`the plateflow bridge failed while calling ${ref}: ${error.message}`, { fn: ref, ...(error.traceback ? { traceback: error.traceback } : {}) });
  }
}
