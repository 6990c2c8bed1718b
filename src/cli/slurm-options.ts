/**
 * The flags `run` and `batch` add for `--executor slurm`, and the executor they make; apart from
 * run-options.ts like the BullMQ ones.
 */
import { Command } from 'commander';
import { createSlurmExecutor, type SlurmExecutor } from '../distributed/slurm/executor.js';
import type { SlurmExecutorOptions } from '../distributed/slurm/options.js';
import { positiveInt } from './options.js';

export interface SlurmFlags {
  runId?: string;
  slurmPartition?: string;
  slurmTime?: string;
  slurmMem?: string;
  slurmMemPerCpu?: string;
  slurmCpusPerTask?: number;
  slurmGres?: string;
  slurmAccount?: string;
  slurmQos?: string;
  slurmOption: string[];
  slurmArrayParallelism?: number;
  slurmMaxArraySize?: number;
}

export const SLURM_EXECUTOR_HELP = 'slurm: every task an element of a Slurm job array (sbatch), results through the output folder, which must be on a filesystem the nodes share (see the --slurm-* options)';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addSlurmOptions(command: Command): Command {
  return command
    .option('--slurm-partition <name>', 'with --executor slurm: the partition (default: the cluster\'s default)')
    .option('--slurm-time <time>', 'with --executor slurm: wall-time limit per task, Slurm\'s form (30, 1:00:00, 1-00:00:00); past it the task ends "timeout"')
    .option('--slurm-mem <size>', 'with --executor slurm: memory per task, e.g. 4G; a task over it ends "killed" with the memory cause')
    .option('--slurm-mem-per-cpu <size>', 'with --executor slurm: memory per CPU instead of --slurm-mem')
    .option('--slurm-cpus-per-task <n>', 'with --executor slurm: CPUs per task (default 1); thread limits (OMP_NUM_THREADS…) follow it', positiveInt('--slurm-cpus-per-task'))
    .option('--slurm-gres <spec>', 'with --executor slurm: generic resources per task, e.g. gpu:1 (the task finds its GPU in CUDA_VISIBLE_DEVICES)')
    .option('--slurm-account <name>', 'with --executor slurm: the account to charge')
    .option('--slurm-qos <name>', 'with --executor slurm: the quality of service')
    .option('--slurm-option <option>', 'with --executor slurm: one more sbatch option, e.g. --constraint=avx2 (repeat for more)', collect, [])
    .option('--slurm-array-parallelism <n>', 'with --executor slurm: at most n elements of one array run at once (sbatch --array=…%n)', positiveInt('--slurm-array-parallelism'))
    .option('--slurm-max-array-size <n>', 'with --executor slurm: at most n tasks per job array (default and upper bound: the cluster\'s MaxArraySize); more tasks go in several arrays', positiveInt('--slurm-max-array-size'));
}

/** The executor options the --slurm-* flags give (shared by `run`, `batch` and `slurm-script`). */
export function slurmOptionsFromFlags(flags: SlurmFlags): SlurmExecutorOptions {
  const { slurmCpusPerTask: cpusPerTask, slurmArrayParallelism: arrayParallelism, slurmMaxArraySize: maxArraySize } = flags;
  return {
    ...(flags.runId !== undefined ? { runId: flags.runId } : {}),
    ...(flags.slurmPartition !== undefined ? { partition: flags.slurmPartition } : {}),
    ...(flags.slurmTime !== undefined ? { time: flags.slurmTime } : {}),
    ...(flags.slurmMem !== undefined ? { mem: flags.slurmMem } : {}),
    ...(flags.slurmMemPerCpu !== undefined ? { memPerCpu: flags.slurmMemPerCpu } : {}),
    ...(cpusPerTask !== undefined ? { cpusPerTask } : {}),
    ...(flags.slurmGres !== undefined ? { gres: flags.slurmGres } : {}),
    ...(flags.slurmAccount !== undefined ? { account: flags.slurmAccount } : {}),
    ...(flags.slurmQos !== undefined ? { qos: flags.slurmQos } : {}),
    ...(flags.slurmOption.length > 0 ? { sbatchOptions: flags.slurmOption } : {}),
    ...(arrayParallelism !== undefined ? { arrayParallelism } : {}),
    ...(maxArraySize !== undefined ? { maxArraySize } : {}),
  };
}

/** `--retries n` gives n + 1 attempts to tasks that end killed or timeout; `--timeout` and `--worker-memory` hold inside each element. */
export function slurmExecutorFromFlags(flags: SlurmFlags & { retries: number; timeout?: number; workerMemory?: number }): SlurmExecutor {
  return createSlurmExecutor({
    ...slurmOptionsFromFlags(flags),
    attempts: flags.retries + 1,
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    ...(flags.workerMemory !== undefined ? { workerMemoryBytes: flags.workerMemory } : {}),
  });
}
