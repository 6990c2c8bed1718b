import type { TaskPlan } from '../src/compiler/plan.js';

/** A hand-made plan for scheduler and dispatch tests: no files, `weight` fake inputs, an optional GPU. */
export function fakePlan(taskId: string, weight = 1, gpuId: number | null = null): TaskPlan {
  return {
    formatVersion: 1,
    taskId,
    axis: { well: taskId },
    plate: { root: '/nowhere', format: 'test', componentOrder: ['well'], grid: null },
    inputs: Array.from({ length: weight }, (_, i) => ({ path: `${taskId}_${i}.tif`, components: { well: taskId } })),
    steps: [],
    outputRoot: '/nowhere_out',
    modules: [],
    resources: { weight, gpuId },
  };
}
