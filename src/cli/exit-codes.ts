import { isPlateflowError } from '../errors.js';
import type { RunTotals } from '../report/results.js';

/** DESIGN §3: 0 all ok, 1 some tasks failed, 2 bad usage/config/input, 130 interrupted. */
export const EXIT = { ok: 0, tasksFailed: 1, badInput: 2, interrupted: 130, oomPropagated: 137 } as const;

/** Tasks ran, so nothing is bad usage any more: a failure to save their results is a failed run (1). */
export function exitCodeForTotals(totals: RunTotals, interrupted: boolean, saveFailed = false): number {
  if (interrupted) return EXIT.interrupted;
  return totals.failed > 0 || totals.cancelled > 0 || saveFailed ? EXIT.tasksFailed : EXIT.ok;
}

/**
 * Prints an error for a person: the message (which names the file and cause), the code, and a
 * stack only when PLATEFLOW_DEBUG is set. Returns the exit code.
 */
export function reportError(err: unknown, write: (line: string) => void = (l) => process.stderr.write(l + '\n')): number {
  if (isPlateflowError(err)) {
    write(`plateflow: error [${err.code}] ${err.message}`);
    if (process.env.PLATEFLOW_DEBUG && err.stack) write(err.stack);
    return EXIT.badInput;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`plateflow: unexpected error: ${message}`);
  write(process.env.PLATEFLOW_DEBUG && err instanceof Error && err.stack ? err.stack : '(set PLATEFLOW_DEBUG=1 for a stack trace)');
  return EXIT.badInput;
}
