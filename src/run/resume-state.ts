/**
 * What an earlier run into the same output folder already did, read before anything is
 * dispatched: whole tasks to report as resumed (a `subprocess` resume of a finished plate must not
 * start one process per task to learn that), and per remaining task the disk steps that still
 * have to write, for the preflight's disk estimate.
 *
 * @module
 */
import type { TaskPlan } from '../compiler/plan.js';
import type { TaskResult } from '../execution/result.js';
import { checkpointStoreFor, lastStepIndex, reusableResult } from '../execution/task-checkpoints.js';

export interface ResumeState {
  /** Task id → its result from the checkpoints, for tasks that need no work at all. */
  readonly finished: ReadonlyMap<string, TaskResult>;
  /** How many disk steps of this (unfinished) task have no current checkpoint. */
  readonly diskStepsToRun: (plan: TaskPlan) => number;
}

export async function findFinishedTasks(plans: readonly TaskPlan[]): Promise<ResumeState> {
  const finished = new Map<string, TaskResult>();
  for (const plan of plans) {
    // Hashing every input's bytes (--verify-inputs) is work for the workers, not this thread.
    if (plan.checkpoints.verifyInputs) continue;
    const result = await reusableResult(plan).catch(() => undefined); // an unreadable input: the task reports it
    if (result) finished.set(plan.taskId, result);
  }
  return { finished, diskStepsToRun };
}

function diskStepsToRun(plan: TaskPlan): number {
  const last = lastStepIndex(plan);
  const diskSteps = plan.steps.filter((s) => s.backend === 'disk' && s.index <= last);
  if (!plan.checkpoints.reuse || plan.checkpoints.verifyInputs) return diskSteps.length;
  const store = checkpointStoreFor(plan);
  const from = plan.checkpoints.fromStep ?? Infinity;
  try {
    return diskSteps.filter((s) => s.index >= from || !store.hasCurrentStep(plan.taskId, s)).length;
  } catch {
    return diskSteps.length;
  }
}
