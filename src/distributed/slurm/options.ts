/**
 * What callers pass to the Slurm executor, the filled-in form it reads, and the `sbatch` options
 * that follow from it. One place for defaults and for the message of every bad value.
 */
import { ConfigError } from '../../errors.js';
import { DEFAULT_RETRY_ON } from '../job-schema.js';
import { assertRunId, newRunId } from '../names.js';
import type { TaskStatus } from '../../execution/result.js';

export interface SlurmExecutorOptions {
  /** `--partition`. @default the cluster's default partition */
  readonly partition?: string;
  /** `--time` per array element, in Slurm's own form (`30`, `1:00:00`, `2-00:00:00`). @default the partition's */
  readonly time?: string;
  /** `--mem` per element (`4G`, `500M`). Exclusive with `memPerCpu`. @default the cluster's */
  readonly mem?: string;
  /** `--mem-per-cpu`. */
  readonly memPerCpu?: string;
  /** `--cpus-per-task`. @default 1 */
  readonly cpusPerTask?: number;
  /** `--gres`, e.g. `gpu:1`: the task then finds its GPU in CUDA_VISIBLE_DEVICES. */
  readonly gres?: string;
  readonly account?: string;
  readonly qos?: string;
  /** More `sbatch` options, one per item (`--constraint=avx2`, `--exclusive`). */
  readonly sbatchOptions?: readonly string[];
  /** `%P` of `--array`: at most this many elements of one array run at once. @default no limit */
  readonly arrayParallelism?: number;
  /** At most this many elements per array (never more than the cluster's MaxArraySize). @default MaxArraySize */
  readonly maxArraySize?: number;
  /**
   * The run's id, which names its folder of plans and results (`<out>/.plateflow-slurm/<id>`).
   * Give an earlier run's id to adopt its arrays still in the queue and reuse its results.
   * @default a new id
   */
  readonly runId?: string;
  /** Tries per task when it ends with a status in `retryOn`. @default 1 */
  readonly attempts?: number;
  readonly retryErrors?: boolean;
  /** Per-task limit inside the element, on top of Slurm's `--time`. */
  readonly timeoutMs?: number;
  /** RSS limit of the task's process inside the element. */
  readonly workerMemoryBytes?: number;
  /** First `squeue` interval; it backs off to `maxPollIntervalMs` while nothing changes. @default 2000 */
  readonly pollIntervalMs?: number;
  /** @default 30_000 */
  readonly maxPollIntervalMs?: number;
  /**
   * How long an element that left the queue may take for its result file to appear (a shared
   * filesystem's attribute cache) before it is called "ended without a result". @default 10_000
   */
  readonly resultGraceMs?: number;
  /** The command that runs one element (`node …/cli/main.js`). @default this installation's */
  readonly plateflowCommand?: readonly string[];
  /** Where Slurm's commands are, when not on PATH. */
  readonly slurmBinDir?: string;
}

export interface ResolvedSlurmOptions {
  readonly runId: string;
  readonly resumable: boolean;
  /** Whether the user asked for memory (`--slurm-mem`, `--slurm-mem-per-cpu` or a `--mem…` option); else it defaults from the estimate. */
  readonly memoryGiven: boolean;
  /** GPUs each element gets from `--slurm-gres` (`gpu:2`, `gpu:a100:1`, `gpu`): plans are compiled for that many. */
  readonly gpusPerElement: number;
  readonly sbatchArgs: readonly string[];
  readonly arrayParallelism: number | null;
  readonly maxArraySize: number | null;
  readonly attempts: number;
  readonly retryOn: readonly TaskStatus[];
  readonly timeoutMs: number | null;
  readonly workerMemoryBytes: number | null;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly resultGraceMs: number;
  readonly plateflowCommand: readonly string[] | null;
  readonly slurmBinDir: string | null;
  readonly partition: string | null;
}

/** Options plateflow sets itself on every array: a user's copy would break the run. */
const RESERVED = ['--array', '--output', '--error', '--parsable', '--wrap', '--job-name', '-a', '-o', '-e', '-J'];
/** A Slurm option as one item: `--name`, `--name=value` or `-x`, no spaces, no shell characters. */
const OPTION = /^(--[a-z][a-z0-9-]*(=[^\s'"`$\\;|&<>]*)?|-[a-zA-Z])$/;
const VALUE = /^[^\s'"`$\\;|&<>]+$/;

/** @throws ConfigError E_CONFIG_INVALID naming the option and the bad value */
export function resolveSlurmOptions(o: SlurmExecutorOptions): ResolvedSlurmOptions {
  const int = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new ConfigError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  int('--slurm-cpus-per-task', o.cpusPerTask, 1);
  int('--slurm-array-parallelism', o.arrayParallelism, 1);
  int('--slurm-max-array-size', o.maxArraySize, 1);
  int('attempts', o.attempts, 1);
  int('timeoutMs', o.timeoutMs, 1);
  int('workerMemoryBytes', o.workerMemoryBytes, 1);
  int('pollIntervalMs', o.pollIntervalMs, 10);
  int('maxPollIntervalMs', o.maxPollIntervalMs, 10);
  int('resultGraceMs', o.resultGraceMs, 0);
  if (o.mem !== undefined && o.memPerCpu !== undefined) throw new ConfigError('give --slurm-mem or --slurm-mem-per-cpu, not both');
  const args: string[] = [];
  const value = (flag: string, v: string | number | undefined, pattern: RegExp = VALUE): void => {
    if (v === undefined) return;
    if (!pattern.test(String(v))) throw new ConfigError(`${flag} has a bad value ${JSON.stringify(v)}`);
    args.push(`--${flag.replace(/^--slurm-/, '')}=${v}`);
  };
  value('--slurm-partition', o.partition);
  value('--slurm-time', o.time, /^(\d+-)?\d+(:\d{1,2}){0,2}$|^\d+-\d+$/);
  value('--slurm-mem', o.mem, /^\d+[KMGT]?$/i);
  value('--slurm-mem-per-cpu', o.memPerCpu, /^\d+[KMGT]?$/i);
  value('--slurm-cpus-per-task', o.cpusPerTask ?? 1);
  value('--slurm-gres', o.gres);
  value('--slurm-account', o.account);
  value('--slurm-qos', o.qos);
  for (const option of o.sbatchOptions ?? []) {
    if (!OPTION.test(option)) throw new ConfigError(`--slurm-option ${JSON.stringify(option)} is not one sbatch option (write --name=value, one per --slurm-option)`);
    const name = option.split('=')[0]!;
    if (RESERVED.includes(name)) throw new ConfigError(`--slurm-option ${name} is set by plateflow for every array and cannot be given`);
    args.push(option);
  }
  return {
    runId: o.runId === undefined ? newRunId() : assertRunId(o.runId, '--run-id'),
    resumable: o.runId !== undefined,
    gpusPerElement: gresGpuCount(o.gres),
    memoryGiven: o.mem !== undefined || o.memPerCpu !== undefined || (o.sbatchOptions ?? []).some((option) => /^--mem(-per-(cpu|gpu))?(=|$)/.test(option)),
    sbatchArgs: args,
    arrayParallelism: o.arrayParallelism ?? null,
    maxArraySize: o.maxArraySize ?? null,
    attempts: o.attempts ?? 1,
    retryOn: o.retryErrors ? [...DEFAULT_RETRY_ON, 'error'] : DEFAULT_RETRY_ON,
    timeoutMs: o.timeoutMs ?? null,
    workerMemoryBytes: o.workerMemoryBytes ?? null,
    pollIntervalMs: o.pollIntervalMs ?? 2000,
    maxPollIntervalMs: Math.max(o.maxPollIntervalMs ?? 30_000, o.pollIntervalMs ?? 2000),
    resultGraceMs: o.resultGraceMs ?? 10_000,
    plateflowCommand: o.plateflowCommand ?? null,
    slurmBinDir: o.slurmBinDir ?? null,
    partition: o.partition ?? null,
  };
}

/**
 * GPUs in a `--gres` list: `gpu` (one), `gpu:2`, `gpu:a100:2`; other resources (`shard:2`,
 * `license:x`) are not GPUs.
 * @throws ConfigError for a gpu count that is not a positive integer
 */
export function gresGpuCount(gres: string | undefined): number {
  let count = 0;
  for (const entry of (gres ?? '').split(',').filter(Boolean)) {
    const [name, ...rest] = entry.split(':');
    if (name !== 'gpu') continue;
    const last = rest.at(-1);
    // A last part of digits is the count; without one, `gpu` or `gpu:<type>` is one GPU.
    const n = last !== undefined && /^\d+$/.test(last) ? Number(last) : rest.length <= 1 ? 1 : Number.NaN;
    if (!(n >= 1)) throw new ConfigError(`--slurm-gres ${JSON.stringify(gres)}: "${entry}" needs a GPU count ≥ 1 (gpu, gpu:2 or gpu:<type>:2)`);
    count += n;
  }
  return count;
}
