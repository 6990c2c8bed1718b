/**
 * One array element, on a compute node: `plateflow slurm-element <run folder> <submission>`. It
 * reads its entry (SLURM_ARRAY_TASK_ID) and plan from the run folder, runs the task in a child
 * process exactly as the `processes` executor does (a crash or a `--worker-memory` overrun of the
 * task is then its result, `killed`, not the element's death), and writes the result atomically.
 *
 * Only when Slurm itself ends the element (its memory or time limit, scancel, a node failure) is
 * there no result file; the coordinator then reads the cause from Slurm (endings.ts).
 */
import type { TaskPlan } from '../../compiler/plan.js';
import { ConfigError } from '../../errors.js';
import { createExecutor } from '../../execution/executors/create.js';
import { SlurmRunFiles } from './run-files.js';

/** @throws ConfigError when not started as an array element, or the entry does not exist */
export async function runElement(dir: string, submission: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const index = Number(env['SLURM_ARRAY_TASK_ID']);
  if (!Number.isInteger(index) || index < 0) throw new ConfigError('slurm-element runs as a Slurm array element (SLURM_ARRAY_TASK_ID is not set)');
  const files = new SlurmRunFiles(dir);
  const { elements, settings } = files.readSubmission(submission);
  const entry = elements[index];
  if (!entry) throw new ConfigError(`submission ${submission} of ${dir} has no element ${index}`);
  const plan = onThisElementsGpu(files.readPlan(entry.task, entry.planHash), env);
  // availableCpus() reads SLURM_CPUS_PER_TASK: the task's thread limits follow the element's allocation.
  const executor = createExecutor('processes', {
    workers: 1,
    ...(settings.timeoutMs !== null ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.workerMemoryBytes !== null ? { workerMemoryBytes: settings.workerMemoryBytes } : {}),
  });
  try {
    const results = await executor.run([plan]);
    const result = results.get(plan.taskId)!;
    await files.writeResult(entry, { ...result, attempts: entry.attempt });
  } finally {
    await executor.close({ force: true });
  }
}

/**
 * A plan's GPU is an index into the devices Slurm gave this element (`--gres=gpu:N` sets
 * CUDA_VISIBLE_DEVICES to them); the task's worker then sees only that one, as on any executor.
 * @throws ConfigError when the plan needs a GPU and Slurm gave the element none
 */
export function onThisElementsGpu(plan: TaskPlan, env: NodeJS.ProcessEnv): TaskPlan {
  const wanted = plan.resources.gpuId;
  if (wanted === null) return plan;
  const devices = (env['CUDA_VISIBLE_DEVICES'] ?? '').split(',').map((d) => d.trim()).filter((d) => /^\d+$/.test(d));
  if (devices.length === 0) {
    throw new ConfigError(`task ${plan.taskId} was planned for a GPU (--slurm-gres), but Slurm gave its element none (CUDA_VISIBLE_DEVICES is ${JSON.stringify(env['CUDA_VISIBLE_DEVICES'] ?? 'unset')})`);
  }
  return { ...plan, resources: { ...plan.resources, gpuId: Number(devices[wanted % devices.length]) } };
}
