/**
 * What can go wrong on the Python side of a step, each with its own code (src/errors.ts). A Python
 * process that dies under a call is not here: that is the executors' `TaskKilledError`, so a
 * segfault in Python reads like a crash of any other worker.
 */
import { PipelineError, PlateflowError, type ErrorContext } from '../errors.js';

/** One frame of a Python traceback, innermost last (as Python prints them). */
export interface PythonFrame {
  readonly file: string;
  readonly line: number;
  readonly function: string;
  /** The source line, when Python could read it. */
  readonly code: string;
}

/** A Python exception as the bridge reports it; the traceback starts at the first frame of user code. */
export interface PythonException {
  readonly type: string;
  readonly message: string;
  readonly traceback?: string;
  readonly frames?: readonly PythonFrame[];
}

/** "ValueError: bad input (at /x/seg.py, line 12, in segment)": where it was raised, when known. */
function describe(exception: PythonException): string {
  // Import machinery frames ("<frozen importlib._bootstrap>") say nothing a user can act on.
  const where = exception.frames?.findLast((f) => !f.file.startsWith('<'));
  return `${exception.type}: ${exception.message}${where ? ` (at ${where.file}, line ${where.line}, in ${where.function})` : ''}`;
}

function exceptionContext(exception: PythonException): ErrorContext {
  return { pythonType: exception.type, traceback: exception.traceback ?? '', frames: exception.frames ?? [] };
}

/** The Python function raised (SystemExit included). `context.traceback` holds Python's own text. */
export class PythonFunctionError extends PlateflowError {
  readonly pythonType: string;
  readonly traceback: string;
  readonly frames: readonly PythonFrame[];

  constructor(ref: string, exception: PythonException) {
    super('E_PYTHON_RAISED', `${ref} raised ${describe(exception)}`, { fn: ref, ...exceptionContext(exception) });
    this.name = 'PythonFunctionError';
    this.pythonType = exception.type;
    this.traceback = exception.traceback ?? '';
    this.frames = exception.frames ?? [];
  }
}

/**
 * Targets whose module or file does not import, or that name no callable. One error lists every
 * failing target; `context.fn` is the first, `context.failures` has each with its traceback.
 */
export class PythonLoadError extends PipelineError {
  constructor(failures: readonly { readonly ref: string; readonly exception: PythonException }[]) {
    const first = failures[0];
    super('E_MODULE_LOAD', failures.map((f) => `${f.ref}: ${describe(f.exception)}`).join('; '), {
      ...(first ? { fn: first.ref, ...exceptionContext(first.exception) } : {}),
      failures: failures.map((f) => ({ fn: f.ref, ...exceptionContext(f.exception), message: f.exception.message })),
    });
    this.name = 'PythonLoadError';
  }
}

/** The function returned something plateflow cannot take as an image (or malformed measurements). */
export class PythonResultError extends PlateflowError {
  constructor(ref: string, problem: string, returned: { readonly shape?: readonly number[]; readonly dtype?: string } = {}) {
    super('E_PYTHON_RESULT', `${ref} ${problem}`, { fn: ref, ...returned });
    this.name = 'PythonResultError';
  }
}

/**
 * Python cannot be used: the interpreter does not start or is too old, numpy does not import, or
 * the bridge cannot do its part (e.g. the shared-memory folder is full).
 */
export class PythonUnavailableError extends PlateflowError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('E_PYTHON_UNAVAILABLE', message, context, options);
    this.name = 'PythonUnavailableError';
  }
}
