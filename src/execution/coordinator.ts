import { performance } from 'node:perf_hooks';
import type { KeyFilter } from '../components/filters.js';
import { compile, type CompileOptions, type CompiledRun } from '../compiler/compile.js';
import type { TaskPlan } from '../compiler/plan.js';
import type { PlateIndex } from '../microscopes/types.js';
import type { PipelineDefinition } from '../pipeline/types.js';
import type { ExecuteOptions, Executor } from './executor.js';
import { MetadataWriter } from './metadata-writer.js';
import type { TaskResult } from './result.js';

export interface CoordinatorOptions extends Omit<CompileOptions, 'axisFilter'> {
  readonly plate: PlateIndex;
  readonly pipeline: PipelineDefinition;
  /** Receives warnings such as "no tasks"; defaults to nothing. */
  readonly warn?: (message: string) => void;
}

export interface RunOutcome {
  readonly compiled: CompiledRun;
  readonly results: ReadonlyMap<string, TaskResult>;
  readonly executor: string;
  readonly seconds: number;
  /**
   * What the tasks wrote could not be put on record in `plateflow_metadata.json` (a full or
   * read-only disk at the end of the run). The tasks' own results stand.
   */
  readonly metadataError?: unknown;
}

export interface CoordinatorExecuteOptions extends ExecuteOptions {
  /**
   * Tasks an earlier run finished (see `reusableResult`): not dispatched, reported as they are
   * (with `resumed: 'task'`) in their place among the results, their metadata entries merged again.
   */
  readonly finished?: ReadonlyMap<string, TaskResult>;
}

/**
 * Turns a plate and a pipeline into tasks along any axis (one component or a tuple) and runs them
 * on an executor. It never knows what a task does; it only compiles and collects.
 */
export class Coordinator {
  readonly #options: CoordinatorOptions;
  #compiled: CompiledRun | undefined;

  constructor(options: CoordinatorOptions) {
    this.#options = options;
  }

  /** Compiles one frozen plan per axis value that passes the filter. An empty result is a warning, not an error. */
  async createTasks(axisFilter?: KeyFilter | Readonly<Record<string, KeyFilter>>): Promise<ReadonlyMap<string, TaskPlan>> {
    const { plate, pipeline, warn, ...compileOptions } = this.#options;
    this.#compiled = await compile(pipeline, plate, { ...compileOptions, ...(axisFilter !== undefined ? { axisFilter } : {}) });
    for (const w of this.#compiled.warnings) warn?.(w);
    return this.#compiled.tasks;
  }

  get compiled(): CompiledRun | undefined {
    return this.#compiled;
  }

  async execute(tasks: ReadonlyMap<string, TaskPlan>, executor: Executor, options: CoordinatorExecuteOptions = {}): Promise<RunOutcome> {
    if (!this.#compiled) await this.createTasks();
    const started = performance.now();
    const { finished = new Map<string, TaskResult>(), ...execute } = options;
    const toRun = [...tasks.values()].filter((plan) => !finished.has(plan.taskId));
    if (tasks.size === 0) this.#options.warn?.('no tasks to execute');
    execute.onEvent?.({ type: 'run:start', tasks: tasks.size, executor: executor.name, ...(finished.size > 0 ? { resumed: finished.size } : {}) });
    const metadata = new MetadataWriter(this.#compiled!.outputRoot);
    for (const result of finished.values()) {
      metadata.add(result);
      execute.onEvent?.({ type: 'task:done', result });
    }
    const onEvent: NonNullable<ExecuteOptions['onEvent']> = (event) => {
      if (event.type === 'task:done') metadata.add(event.result);
      execute.onEvent?.(event);
    };
    let unordered: ReadonlyMap<string, TaskResult>;
    try {
      unordered = toRun.length === 0 ? new Map<string, TaskResult>() : await executor.run(toRun, { ...execute, onEvent });
    } catch (err) {
      await metadata.close().catch(() => undefined); // record what was done; the run's own error wins
      throw err;
    }
    for (const r of unordered.values()) metadata.add(r);
    // What the tasks wrote goes on record before the run reports; if it cannot (a full disk),
    // the results still stand and the caller says what could not be saved.
    const metadataError = await metadata.close().then(
      () => undefined,
      (err: unknown) => err ?? new Error('metadata merge failed'),
    );
    // Results come back in completion order; report them in task (axis) order.
    const results = new Map<string, TaskResult>();
    for (const [id, plan] of tasks) {
      const r = finished.get(id) ?? fromThisRun(unordered.get(id), plan);
      if (r) results.set(id, r);
    }
    return { compiled: this.#compiled!, results, executor: executor.name, seconds: (performance.now() - started) / 1000, ...(metadataError !== undefined ? { metadataError } : {}) };
  }
}

/**
 * A worker reports `resumed: 'task'` when it finds the task's checkpoint complete. Without
 * `verifyInputs` the run already took every such task of an earlier run out before dispatching,
 * so a checkpoint a worker finds was left by this run's own earlier attempt (a worker lost after
 * the task's work was done, a BullMQ job run twice): that work was done in this run, and counts
 * as computed, not resumed.
 */
function fromThisRun(result: TaskResult | undefined, plan: TaskPlan): TaskResult | undefined {
  if (result?.resumed !== 'task' || plan.checkpoints.verifyInputs) return result;
  const { resumed: _ownAttempt, ...computed } = result;
  return computed;
}
