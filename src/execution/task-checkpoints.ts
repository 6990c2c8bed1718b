/**
 * How a task finds its own earlier work: the checkpoint store for its plan, keyed by what its
 * inputs are now, and the whole-task result an earlier run left when nothing has changed since.
 * The task runtime asks first thing; the run asks before it dispatches anything, so a finished
 * task never costs a worker (or a process start).
 *
 * @module
 */
import type { TaskPlan } from '../compiler/plan.js';
import { CheckpointStore } from '../storage/checkpoints.js';
import { inputIdentity } from '../storage/input-identity.js';
import type { TaskResult } from './result.js';

export function checkpointStoreFor(plan: TaskPlan): CheckpointStore {
  return new CheckpointStore(plan.outputRoot, plan.inputsKey, () => inputIdentity(plan.plate.root, plan.inputs, plan.checkpoints.verifyInputs ? 'content' : 'stat'));
}

/** The index of the last step the plan runs (`--to-step`, else the last). */
export function lastStepIndex(plan: TaskPlan): number {
  return plan.checkpoints.toStep ?? plan.steps.length - 1;
}

/**
 * The result of an earlier run of exactly this task (same steps, kwargs and unchanged inputs),
 * with every output still in place; undefined when the task must run (or may not be reused:
 * `--force`, `--from-step`, `--to-step` short of the end).
 * @throws what reading the inputs' identity throws (an input that cannot be read)
 */
export async function reusableResult(plan: TaskPlan, store: CheckpointStore = checkpointStoreFor(plan)): Promise<TaskResult | undefined> {
  const last = lastStepIndex(plan);
  if (!plan.checkpoints.reuse || plan.checkpoints.fromStep !== null || last !== plan.steps.length - 1) return undefined;
  const done = await store.readTask(plan.taskId, plan.steps[last]!.hash);
  if (!done) return undefined;
  return {
    taskId: plan.taskId,
    axis: plan.axis,
    status: 'ok',
    resumed: 'task',
    seconds: 0,
    images: plan.inputs.length,
    steps: [],
    outputs: [...done.outputs],
    measurements: [...done.measurements],
    metadata: [...done.metadata],
  };
}
