import path from 'node:path';
import { Command } from 'commander';
import { readSlurmConfig } from '../distributed/slurm/commands.js';
import { resolveSlurmOptions } from '../distributed/slurm/options.js';
import { slurmRunDir } from '../distributed/slurm/run-files.js';
import { defaultPlateflowCommand, renderArrayScript } from '../distributed/slurm/script.js';
import { planPlate } from '../run/run-plate.js';
import { addPipelineOptions, compileFlags, type PipelineFlags } from './run-options.js';
import { addSlurmOptions, slurmOptionsFromFlags, type SlurmFlags } from './slurm-options.js';

interface ScriptFlags extends PipelineFlags, SlurmFlags {
  out?: string;
  only?: string;
}

/**
 * `plateflow slurm-script`: the batch script `--executor slurm` would submit for this plate, printed
 * and not submitted, so whoever runs the cluster can read it first.
 */
export function slurmScriptCommand(): Command {
  const command = new Command('slurm-script')
    .description('print the sbatch script that `run --executor slurm` would submit for this plate (nothing is submitted)')
    .argument('<plate>', 'plate folder')
    .option('-o, --out <dir>', 'output folder (default: <plate>_plateflow beside the plate)')
    .option('--only <filter>', 'as for run: only these axis values')
    .option('--run-id <id>', 'the run id the script would carry (default: a new one)');
  return addSlurmOptions(addPipelineOptions(command)).action(async (plateDir: string, flags: ScriptFlags) => {
    const o = resolveSlurmOptions(slurmOptionsFromFlags(flags));
    const { tasks, outputRoot } = await planPlate(plateDir, {
      pipeline: flags.pipeline,
      lenient: flags.lenient,
      ...(flags.format ? { format: flags.format } : {}),
      ...(flags.pattern ? { pattern: flags.pattern } : {}),
      color: flags.color,
      ...(flags.out ? { out: path.resolve(flags.out) } : {}),
      ...(flags.only !== undefined ? { axisFilter: flags.only } : {}),
      ...compileFlags(flags),
      gpus: Array.from({ length: o.gpusPerElement }, (_, i) => i),
    });
    const clusterMax = await readSlurmConfig().then(
      (c) => c.maxArraySize,
      () => undefined,
    );
    const maxArraySize = clusterMax === undefined ? o.maxArraySize ?? undefined : Math.min(clusterMax, o.maxArraySize ?? clusterMax);
    const perArray = Math.min(tasks.size, maxArraySize ?? tasks.size);
    const arrays = Math.ceil(tasks.size / perArray);
    const note =
      maxArraySize === undefined
        ? `# ${tasks.size} task(s) in one array (the cluster's MaxArraySize could not be read: no Slurm here?)`
        : `# ${tasks.size} task(s) in ${arrays} array(s) of at most ${perArray} (MaxArraySize ${clusterMax ?? '?'}${o.maxArraySize !== null ? `, --slurm-max-array-size ${o.maxArraySize}` : ''}); the first:`;
    const script = renderArrayScript({ runId: o.runId, runDir: slurmRunDir(outputRoot, o.runId), submission: 0, elements: perArray, parallelism: o.arrayParallelism, sbatchArgs: o.sbatchArgs, plateflow: o.plateflowCommand ?? defaultPlateflowCommand() });
    process.stdout.write(`${note}\n${script}`);
  });
}
