import { ConfigError } from '../errors.js';
import { runElement } from '../distributed/slurm/element.js';
import { reportError } from './exit-codes.js';

/**
 * `plateflow slurm-element <run-dir> <submission>`: what an array element runs (see
 * distributed/slurm/element.ts). Started by sbatch, once per task, so main.ts dispatches it before
 * loading the other commands and their libraries (BullMQ, Redis, commander…): that load is paid by
 * every element, and it was most of a bare `plateflow --version` (1.6 s on a busy 2-core node).
 */
export async function slurmElementMain(args: readonly string[]): Promise<void> {
  try {
    const [dir, submission, ...rest] = args;
    if (dir === undefined || submission === undefined || rest.length > 0 || !/^\d+$/.test(submission)) {
      throw new ConfigError('usage: plateflow slurm-element <run-dir> <submission> (started by sbatch, not by hand)');
    }
    await runElement(dir, Number(submission));
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
