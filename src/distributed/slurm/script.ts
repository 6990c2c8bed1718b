/**
 * The batch script of one array: everything sbatch needs is in its `#SBATCH` lines, so what an
 * admin reads (`plateflow slurm-script`, or `submissions/<n>.sh` in the run folder) is exactly
 * what ran. The element itself is one command: `plateflow slurm-element <run folder> <n>`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLIBC_MALLOC_TUNING } from '../../execution/resources/env-limits.js';

export interface ArrayScript {
  readonly runId: string;
  readonly runDir: string;
  readonly submission: number;
  readonly elements: number;
  readonly parallelism: number | null;
  readonly sbatchArgs: readonly string[];
  /** The command that runs plateflow on the node. */
  readonly plateflow: readonly string[];
}

/** This installation's CLI, run by the node's `node` (the same file on a shared filesystem). */
export function defaultPlateflowCommand(): readonly string[] {
  return [process.execPath, fileURLToPath(new URL('../../cli/main.js', import.meta.url))];
}

/** A word for bash, quoted when it has to be. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function renderArrayScript(s: ArrayScript): string {
  const logs = path.join(s.runDir, 'logs');
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=${shellWord(`plateflow-${s.runId}`)}`,
    `#SBATCH --array=0-${s.elements - 1}${s.parallelism !== null ? `%${s.parallelism}` : ''}`,
    `#SBATCH --output=${shellWord(path.join(logs, '%A_%a.out'))}`,
    `#SBATCH --error=${shellWord(path.join(logs, '%A_%a.err'))}`,
    ...s.sbatchArgs.map((a) => `#SBATCH ${a}`),
    `# plateflow run ${s.runId}, array ${s.submission}: ${s.elements} task(s); element i runs entry i of submissions/${s.submission}.json`,
    // The task runs in the element's process: the heap tuning child workers get (env-limits.ts).
    `export GLIBC_TUNABLES="\${GLIBC_TUNABLES:-${GLIBC_MALLOC_TUNING}}"`,
    `exec ${[...s.plateflow, 'slurm-element', s.runDir, String(s.submission)].map(shellWord).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}
