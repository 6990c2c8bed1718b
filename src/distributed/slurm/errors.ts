/**
 * The one error class of plateflow's Slurm commands. The code says what the caller can do:
 * `E_SLURM_UNAVAILABLE` — Slurm cannot be reached from here (the command is not installed, the
 * controller or munge does not answer, or the command timed out); `E_SLURM_REJECTED` — `sbatch`
 * refused the job, with its own message; `E_SLURM_COMMAND` — any other failure of a Slurm command.
 */
import { PlateflowError } from '../../errors.js';

export type SlurmErrorCode = 'E_SLURM_UNAVAILABLE' | 'E_SLURM_REJECTED' | 'E_SLURM_COMMAND';

export interface SlurmFailure {
  /** The command as run, e.g. `squeue` (or its full path when a command directory was given). */
  readonly command: string;
  readonly args: readonly string[];
  /** Slurm's own words, trimmed; empty when it said nothing. */
  readonly stderr: string;
  /** The exit code, or null when it did not exit by itself (not found, timed out, killed). */
  readonly exitCode: number | null;
  /**
   * The command was killed at its deadline. For `sbatch` the outcome is then unknown: the
   * controller may have queued the job after all.
   */
  readonly timedOut: boolean;
}

export class SlurmError extends PlateflowError {
  declare readonly code: SlurmErrorCode;

  constructor(code: SlurmErrorCode, message: string, failure: SlurmFailure, options?: { cause?: unknown }) {
    super(code, message, { ...failure }, options);
    this.name = 'SlurmError';
  }
}
