import type { TaskPlan } from '../src/compiler/plan.js';

/**
 * A hand-made plan for scheduler and dispatch tests: no files, `weight` fake inputs, an optional
 * GPU. It holds only the fields the queue and the dispatch engine read (the scripted runners never
 * run it), so the plan format can grow without touching these tests.
 */
export function fakePlan(taskId: string, weight = 1, gpuId: number | null = null): TaskPlan {
  const plan: Pick<TaskPlan, 'taskId' | 'axis' | 'inputs' | 'resources'> = {
    taskId,
    axis: { well: taskId },
    inputs: Array.from({ length: weight }, (_, i) => ({ path: `${taskId}_${i}.tif`, components: { well: taskId } })),
    resources: { weight, gpuId },
  };
  return plan as TaskPlan;
}
