/**
 * `slurm` executor: every task an element of a job array, run by Slurm on the cluster's nodes, its
 * result a file in the run folder on the shared filesystem. Same results map as every executor:
 * the shared dispatcher does retries, fail-fast, cancellation and events; the runner talks to Slurm.
 *
 * Before the first task it checks the cluster (commands on PATH, the controller answering, the
 * partition) and has sbatch validate the options without submitting (`--test-only`), so a typo in
 * `--slurm-mem` or a missing partition fails the run at once, with sbatch's own message.
 */
import { statfsSync } from 'node:fs';
import type { TaskPlan } from '../../compiler/plan.js';
import { pythonNeeds } from '../../compiler/python-steps.js';
import type { ExecuteOptions, Executor, ExecutorDescription, PrepareContext } from '../../execution/executor.js';
import { Dispatcher } from '../../execution/executors/dispatch.js';
import { ExecutorClosedError } from '../../execution/executors/errors.js';
import type { TaskResult } from '../../execution/result.js';
import { listPartitions, readSlurmConfig, testSubmit, type SlurmCommandOptions } from './commands.js';
import { defaultElementMemory, describeDefaultTime, type ElementMemory } from './defaults.js';
import { resolveSlurmOptions, type ResolvedSlurmOptions, type SlurmExecutorOptions } from './options.js';
import { SlurmRunFiles, slurmRunDir } from './run-files.js';
import { SlurmRunner } from './runner.js';
import { defaultPlateflowCommand, renderArrayScript } from './script.js';

const TMPFS_MAGIC = 0x01021994;

interface Prepared {
  readonly files: SlurmRunFiles;
  readonly runner: SlurmRunner;
  readonly dispatcher: Dispatcher;
}

export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  readonly #given: SlurmExecutorOptions;
  readonly #o: ResolvedSlurmOptions;
  readonly #commands: SlurmCommandOptions;
  readonly #force = new AbortController();
  readonly #active = new Set<Promise<unknown>>();
  #prepared: Promise<Prepared> | undefined;
  /** Requested per element when the user gives no memory option: the largest of the runs' estimates. */
  #defaultMemory: ElementMemory | undefined;
  #closing: Promise<void> | undefined;

  /** @throws ConfigError E_CONFIG_INVALID for a bad option (nothing runs before the first `run`) */
  constructor(options: SlurmExecutorOptions = {}) {
    this.#given = options;
    this.#o = resolveSlurmOptions(options);
    this.#commands = this.#o.slurmBinDir !== null ? { binDir: this.#o.slurmBinDir } : {};
  }

  /** Plans are compiled for the GPUs `--slurm-gres` gives each element (none without it), not this machine's. */
  get planningGpus(): readonly number[] {
    return Array.from({ length: this.#o.gpusPerElement }, (_, i) => i);
  }

  get runId(): string {
    return this.#o.runId;
  }

  /** The run folder, once the first run has chosen it. */
  get runDir(): string | undefined {
    return this.#dir;
  }

  #dir: string | undefined;

  /**
   * Sizes the elements' `--mem` from the preflight estimate when no memory option was given (a
   * cluster's own default is often the whole node, or a few hundred MB: neither fits a plate).
   * Called once per plate; a later, larger plate raises the request for the arrays submitted after.
   */
  async prepare(plans: readonly TaskPlan[], context: PrepareContext = {}): Promise<void> {
    if (this.#o.memoryGiven || context.taskPeakBytes === undefined || plans.length === 0) return;
    const memory = defaultElementMemory(context.taskPeakBytes, pythonNeeds(plans).size > 0);
    if (!this.#defaultMemory || memory.mebibytes > this.#defaultMemory.mebibytes) this.#defaultMemory = memory;
  }

  describe(): ExecutorDescription {
    return { kind: 'slurm', runId: this.#o.runId, ...(this.#dir ? { details: { runDir: this.#dir } } : {}) };
  }

  /**
   * @throws ExecutorClosedError after close(); SlurmError E_SLURM_UNAVAILABLE (no Slurm, controller
   *   down) or E_SLURM_REJECTED (sbatch refuses the options) before any task is submitted
   */
  async run(plans: readonly TaskPlan[], options: ExecuteOptions = {}): Promise<Map<string, TaskResult>> {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    if (plans.length === 0) return new Map();
    const running = (async () => {
      const { dispatcher } = await this.#prepare(plans[0]!, options);
      const signal = options.signal ? AbortSignal.any([options.signal, this.#force.signal]) : this.#force.signal;
      return dispatcher.run(plans, { ...options, signal, retries: this.#o.attempts - 1, retryOn: this.#o.retryOn, retryBackoffMs: 0 });
    })();
    this.#active.add(running);
    try {
      return await running;
    } finally {
      this.#active.delete(running);
    }
  }

  #prepare(first: TaskPlan, options: ExecuteOptions): Promise<Prepared> {
    this.#prepared ??= (async () => {
      const log = (message: string) => options.onEvent?.({ type: 'log', level: 'warn', message });
      const info = (message: string) => options.onEvent?.({ type: 'log', level: 'info', message });
      const config = await readSlurmConfig(this.#commands);
      if (this.#defaultMemory) info(`--slurm-mem not given: each element requests --mem=${this.#defaultMemory.mebibytes}M (${this.#defaultMemory.reason})`);
      if (this.#given.time === undefined) info(describeDefaultTime(await listPartitions(this.#commands), this.#o.partition));
      const dir = slurmRunDir(first.outputRoot, this.#o.runId);
      warnIfNotShared(first.outputRoot, log);
      const files = new SlurmRunFiles(dir);
      this.#dir = dir;
      await testSubmit(
        renderArrayScript({ runId: this.#o.runId, runDir: dir, submission: 0, elements: 1, parallelism: this.#o.arrayParallelism, sbatchArgs: this.#o.sbatchArgs, plateflow: this.#o.plateflowCommand ?? defaultPlateflowCommand() }),
        { ...this.#commands, cwd: dir },
      );
      const runner = new SlurmRunner({ files, options: this.#o, maxArraySize: Math.min(config.maxArraySize, this.#o.maxArraySize ?? Number.POSITIVE_INFINITY), commands: this.#commands, mem: () => this.#given.mem ?? this.#given.memPerCpu ?? (this.#defaultMemory ? `${this.#defaultMemory.mebibytes}M by default, from the preflight estimate` : null), defaultMem: () => this.#defaultMemory?.mebibytes ?? null, time: this.#given.time ?? null, log });
      // Slurm queues the elements itself: every task is handed over at once, and their time in
      // the queue is not time running (timeouts are the element's and Slurm's --time).
      return { files, runner, dispatcher: new Dispatcher(runner, { concurrency: Number.POSITIVE_INFINITY }) };
    })();
    this.#prepared.catch(() => (this.#prepared = undefined));
    return this.#prepared;
  }

  /**
   * Graceful: waits for the runs in progress (their elements keep running on the cluster). `force`
   * cancels them first, which scancels every element still queued or running.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force && !this.#force.signal.aborted) this.#force.abort(new ExecutorClosedError(this.name, 'closed with force: the run was cancelled'));
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#active]);
      const prepared = await this.#prepared?.catch(() => undefined);
      if (!prepared) return;
      await prepared.runner.cancelElements(prepared.runner.liveElements());
      prepared.runner.close();
    })();
    return this.#closing;
  }
}

/** Creates a Slurm executor; see {@link SlurmExecutorOptions} for defaults. */
export function createSlurmExecutor(options: SlurmExecutorOptions = {}): SlurmExecutor {
  return new SlurmExecutor(options);
}

/** Nodes must see the run folder: tmpfs and /tmp are each machine's own. */
function warnIfNotShared(outputRoot: string, log: (message: string) => void): void {
  let tmpfs = false;
  try {
    tmpfs = statfsSync(outputRoot).type === TMPFS_MAGIC;
  } catch {
    // Not there yet or no statfs: the path test below still applies.
  }
  if (tmpfs || outputRoot === '/tmp' || outputRoot.startsWith('/tmp/')) {
    log(`the output folder ${outputRoot} is ${tmpfs ? 'on tmpfs' : 'under /tmp'}, which compute nodes other than this one cannot see; use a shared filesystem unless the cluster is this machine`);
  }
}
