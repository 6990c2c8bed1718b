import { PlateflowError, type ErrorContext, type SerializedError } from '../errors.js';

/**
 * A chunk plan, shape, dtype, handle or task parameter that cannot work (chunk size 0, a start outside
 * the array, a buffer that is not shared, …). Raised before any chunk runs; retrying will not help.
 */
export class ChunkPlanError extends PlateflowError {
  constructor(message: string, context: ErrorContext = {}) {
    super('E_CHUNK_INVALID', message, context);
    this.name = 'ChunkPlanError';
  }
}

/**
 * One chunk's `processChunk` threw (or its worker died). `context.chunk` is the chunk's index in the
 * plan, `context.worker` the module; `cause` is the original error, rebuilt on this side of the thread
 * boundary with its name, message, `code` and stack.
 */
export class ChunkFailedError extends PlateflowError {
  constructor(chunk: number, worker: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('E_CHUNK_FAILED', `chunk ${chunk} (${worker}): ${why}`, { chunk, worker }, { cause });
    this.name = 'ChunkFailedError';
  }
}

/**
 * Rebuilds an error that crossed a thread as a `SerializedError`. Structured clone keeps only an
 * Error's message and stack, so the worker sends the serialized form and we restore `name` and `code`
 * here; callers can then branch on `cause.code` as if the error had been thrown locally.
 */
export function reviveError(s: SerializedError): Error {
  const err = new Error(s.message, s.cause ? { cause: reviveError(s.cause) } : undefined);
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  if (s.code !== undefined) (err as Error & { code?: string }).code = s.code;
  if (s.context !== undefined) (err as Error & { context?: ErrorContext }).context = s.context;
  return err;
}
