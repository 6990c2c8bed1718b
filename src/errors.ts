/**
 * Every error plateflow raises on purpose is a `PlateflowError` with a stable `code`, so callers
 * (and the CLI's exit-code mapping) branch on the code, never on message text.
 */
export type ErrorCode =
  | 'E_CONFIG_INVALID'
  | 'E_DISCOVERY_EMPTY'
  | 'E_FORMAT_UNKNOWN'
  | 'E_UNMATCHED_FILES'
  | 'E_PLATE_NOT_FOUND'
  | 'E_METADATA_INVALID'
  | 'E_PIPELINE_INVALID'
  | 'E_FUNCTION_UNKNOWN'
  | 'E_KWARGS_INVALID'
  | 'E_GROUP_UNKNOWN'
  | 'E_MODULE_LOAD'
  | 'E_PYTHON_SETUP'
  | 'E_PATH_UNSAFE'
  | 'E_TIFF_INVALID'
  | 'E_STORAGE_IO'
  | 'E_OUTPUT_LOCKED'
  | 'E_OUTPUT_UNWRITABLE'
  | 'E_NOT_FOUND'
  | 'E_STEP_FAILED'
  | 'E_TASK_TIMEOUT'
  | 'E_TASK_KILLED'
  | 'E_ABORTED'
  | 'E_RESOURCE'
  | 'E_PLAN_INVALID'
  | 'E_ZARR_INVALID'
  | 'E_CHUNK_INVALID'
  | 'E_CHUNK_FAILED'
  | 'E_PYTHON_UNAVAILABLE'
  | 'E_PYTHON_RAISED'
  | 'E_PYTHON_RESULT'
  | 'E_SLURM_UNAVAILABLE'
  | 'E_SLURM_REJECTED'
  | 'E_SLURM_COMMAND'
  | 'E_DASHBOARD';

export interface ErrorContext {
  readonly file?: string;
  readonly path?: string;
  readonly task?: string;
  readonly step?: string;
  readonly fn?: string;
  readonly jsonPath?: string;
  readonly [key: string]: unknown;
}

export class PlateflowError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PlateflowError';
    this.code = code;
    this.context = context;
  }

  /** A plain object that survives JSON and structured clone (worker → coordinator). */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** Raised when a component configuration is contradictory; the message says what to change. */
export class ConfigError extends PlateflowError {
  constructor(message: string, context: ErrorContext = {}) {
    super('E_CONFIG_INVALID', message, context);
    this.name = 'ConfigError';
  }
}

/**
 * Raised by discovery: empty folder, no format fits, unmatched files in strict mode, an instrument
 * metadata file (e.g. Opera Phenix `Index.idx.xml`) that cannot be read in strict mode.
 */
export class DiscoveryError extends PlateflowError {
  constructor(code: 'E_DISCOVERY_EMPTY' | 'E_FORMAT_UNKNOWN' | 'E_UNMATCHED_FILES' | 'E_PLATE_NOT_FOUND' | 'E_METADATA_INVALID', message: string, context: ErrorContext = {}) {
    super(code, message, context);
    this.name = 'DiscoveryError';
  }
}

/** Raised while reading or compiling a pipeline; `context.jsonPath` points into the pipeline file. */
export class PipelineError extends PlateflowError {
  constructor(
    code: 'E_PIPELINE_INVALID' | 'E_FUNCTION_UNKNOWN' | 'E_KWARGS_INVALID' | 'E_GROUP_UNKNOWN' | 'E_MODULE_LOAD' | 'E_PYTHON_SETUP' | 'E_PLAN_INVALID',
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options);
    this.name = 'PipelineError';
  }
}

/** A name from data or a pipeline file tried to leave its root (`..`, absolute path, separators). */
export class UnsafePathError extends PlateflowError {
  constructor(name: string, reason: string) {
    super('E_PATH_UNSAFE', `unsafe path ${JSON.stringify(name)}: ${reason}`, { path: name });
    this.name = 'UnsafePathError';
  }
}

/** The live dashboard cannot start or serve: a bad `[HOST:]PORT`, an address in use, a folder with no run in it. */
export class DashboardError extends PlateflowError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('E_DASHBOARD', message, context, options);
    this.name = 'DashboardError';
  }
}

/** A file that is not a TIFF we can decode, or is truncated. Retrying will not help. */
export class TiffError extends PlateflowError {
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super('E_TIFF_INVALID', `${file}: ${reason}`, { file }, options);
    this.name = 'TiffError';
  }
}

/** An I/O fault with the path it happened on. */
export class StorageError extends PlateflowError {
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('E_STORAGE_IO', `${path}: ${message}`, { path }, options);
    this.name = 'StorageError';
  }
}

/**
 * A Zarr array or OME-Zarr group whose metadata is missing, malformed or uses a feature plateflow
 * does not implement (e.g. a dtype images cannot hold, a codec we cannot write). Retrying will not help.
 */
export class ZarrError extends PlateflowError {
  constructor(path: string, reason: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('E_ZARR_INVALID', `${path}: ${reason}`, { path, ...context }, options);
    this.name = 'ZarrError';
  }
}

/** A processing function threw; keeps which task, step and function, and the original as `cause`. */
export class StepFailedError extends PlateflowError {
  constructor(task: string, step: string, fn: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('E_STEP_FAILED', `task ${task}, step "${step}"${fn ? `, function ${fn}` : ''}: ${why}`, { task, step, fn }, { cause });
    this.name = 'StepFailedError';
  }
}

/** The run (or one task) was cancelled; `cause` holds the abort reason. */
export class AbortError extends PlateflowError {
  constructor(reason?: unknown) {
    super('E_ABORTED', reason instanceof Error ? `aborted: ${reason.message}` : 'aborted', {}, { cause: reason });
    this.name = 'AbortError';
  }
}

export interface SerializedError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly context?: ErrorContext;
  readonly stack?: string;
  readonly cause?: SerializedError;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const context = err instanceof PlateflowError ? err.context : undefined;
    return {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: err.message,
      ...(context && Object.keys(context).length > 0 ? { context } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
      ...(err.cause !== undefined ? { cause: serializeError(err.cause) } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}

export function isPlateflowError(err: unknown, ...codes: ErrorCode[]): err is PlateflowError {
  return err instanceof PlateflowError && (codes.length === 0 || codes.includes(err.code));
}
