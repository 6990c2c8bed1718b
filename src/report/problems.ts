/**
 * The tasks that did not end `ok`, and their errors in full. Both the text summary and the HTML
 * report list these; the rule is the same in both: never truncate, because the one line cut off
 * is the one the user needed (seed 003's complaint about errors lost in the scroll-back).
 *
 * @module
 */
import type { SerializedError } from '../errors.js';
import type { TaskResult, TaskStatus } from '../execution/result.js';

export interface Problem {
  /** Plate name, as given to the summary or report. */
  readonly plate: string;
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly error?: SerializedError;
}

/** A whole plate a lenient batch did not run (missing, or lacking a requested channel). */
export interface SkippedPlateInfo {
  readonly plate: string;
  readonly reason: string;
}

/** Every task of the plates whose status is not `ok`, in plate order then task (axis) order. */
export function collectProblems(plates: readonly { readonly name: string; readonly results: Iterable<TaskResult> }[]): Problem[] {
  const out: Problem[] = [];
  for (const plate of plates) {
    for (const r of plate.results) {
      if (r.status !== 'ok') out.push({ plate: plate.name, taskId: r.taskId, status: r.status, ...(r.error ? { error: r.error } : {}) });
    }
  }
  return out;
}

/** The error followed by its causes, outermost first. Stops at a cycle or 32 levels (defensive: data from disk). */
export function errorChain(error: SerializedError): SerializedError[] {
  const chain: SerializedError[] = [];
  const seen = new Set<SerializedError>();
  for (let e: SerializedError | undefined = error; e && !seen.has(e) && chain.length < 32; e = e.cause) {
    seen.add(e);
    chain.push(e);
  }
  return chain;
}

/** `[E_STEP_FAILED] StepFailedError: task B03, step "seg": boom` — code first, since scripts grep for it. */
export function errorHeadline(error: SerializedError): string {
  const code = error.code ? `[${error.code}] ` : '';
  const name = error.name && error.name !== 'Error' ? `${error.name}: ` : '';
  return `${code}${name}${error.message}`;
}

/** `step=seg fn=otsu file=/x.tif` — the structured context, values JSON-quoted only when needed. */
export function formatContext(error: SerializedError): string | undefined {
  if (!error.context) return undefined;
  const parts = Object.entries(error.context)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** Whether stacks are shown: only with PLATEFLOW_DEBUG, as for the CLI's own errors. */
export function debugFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.PLATEFLOW_DEBUG;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * The error as text lines (no indentation): headline, context, each cause as `caused by: …`, and
 * stacks when `debug`. Multi-line messages keep every line.
 */
export function formatErrorLines(error: SerializedError | undefined, debug: boolean): string[] {
  if (!error) return ['(no error was recorded for this task)'];
  const lines: string[] = [];
  errorChain(error).forEach((e, i) => {
    const [first = '', ...rest] = errorHeadline(e).split('\n');
    lines.push(i === 0 ? first : `caused by: ${first}`, ...rest.map((l) => `  ${l}`));
    const context = formatContext(e);
    if (context) lines.push(`  context: ${context}`);
    if (debug && e.stack) {
      // A stack starts with "Name: message", already shown above; keep only the frames.
      const frames = e.stack.split('\n').filter((l) => /^\s+at /.test(l));
      lines.push(...(frames.length > 0 ? frames : e.stack.split('\n')).map((l) => `    ${l.trim()}`));
    }
  });
  return lines;
}
