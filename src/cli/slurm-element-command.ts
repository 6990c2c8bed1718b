import { Command } from 'commander';
import { runElement } from '../distributed/slurm/element.js';

/** What a Slurm array element runs (see distributed/slurm/element.ts); hidden from help: plateflow submits it. */
export function slurmElementCommand(): Command {
  return new Command('slurm-element')
    .description('run one element of a plateflow Slurm array (started by sbatch, not by hand)')
    .argument('<run-dir>', 'the run folder')
    .argument('<submission>', 'the submission number')
    .action((dir: string, submission: string) => runElement(dir, Number(submission)));
}
