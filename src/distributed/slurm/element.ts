/**
 * One array element, on a compute node: `plateflow slurm-element <run folder> <submission>`. It
 * reads its entry (SLURM_ARRAY_TASK_ID) and plan from the run folder, runs the task and writes the
 * result atomically.
 *
 * Slurm already gives every element a process of its own and polices its memory and wall time, so
 * the task runs in the element's own process. Only when plateflow must police the task itself
 * (`--timeout`, `--worker-memory`) does it run in a child process, exactly as the `processes`
 * executor runs it, so that an overrun is a result (`timeout`, `killed`) the element writes. Both
 * ways a child costs a second Node.js start and code load per task, which measured ≈ 0.5 s of the
 * ≈ 1 s an element spent around its task on this 2-core machine.
 *
 * When Slurm itself ends the element (its memory or time limit, scancel, a node failure, a crash of
 * the in-process task) there is no result file; the coordinator then reads the cause from Slurm
 * (endings.ts).
 */
import type { TaskPlan } from '../../compiler/plan.js';
import { ConfigError } from '../../errors.js';
import type { TaskResult } from '../../execution/result.js';
import { availableCpus } from '../../execution/resources/cpus.js';
import { threadLimits } from '../../execution/resources/env-limits.js';
import { SlurmRunFiles, type SubmissionSettings } from './run-files.js';

/** @throws ConfigError when not started as an array element, or the entry does not exist */
export async function runElement(dir: string, submission: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const index = Number(env['SLURM_ARRAY_TASK_ID']);
  if (!Number.isInteger(index) || index < 0) throw new ConfigError('slurm-element runs as a Slurm array element (SLURM_ARRAY_TASK_ID is not set)');
  const files = new SlurmRunFiles(dir);
  const { elements, settings } = files.readSubmission(submission);
  const entry = elements[index];
  if (!entry) throw new ConfigError(`submission ${submission} of ${dir} has no element ${index}`);
  const plan = onThisElementsGpu(files.readPlan(entry.task, entry.planHash), env);
  const result = settings.timeoutMs === null && settings.workerMemoryBytes === null ? await runHere(plan) : await runInChild(plan, settings);
  await files.writeResult(entry, { ...result, attempts: entry.attempt });
}

/** The task in this process, with the thread limits and GPU a child worker would have in its env. */
async function runHere(plan: TaskPlan): Promise<TaskResult> {
  // availableCpus() reads SLURM_CPUS_PER_TASK: the task's thread limits follow the element's allocation.
  Object.assign(process.env, threadLimits({ workers: 1, cpus: availableCpus() }));
  if (plan.resources.gpuId !== null) process.env['CUDA_VISIBLE_DEVICES'] = String(plan.resources.gpuId);
  const { runTask } = await import('../../execution/run-task.js');
  const { closePythonWorkers } = await import('../../execution/python-steps.js');
  try {
    const result = await runTask(plan);
    return { ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  } finally {
    await closePythonWorkers();
  }
}

async function runInChild(plan: TaskPlan, settings: SubmissionSettings): Promise<TaskResult> {
  const { createExecutor } = await import('../../execution/executors/create.js');
  const executor = createExecutor('processes', {
    workers: 1,
    ...(settings.timeoutMs !== null ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.workerMemoryBytes !== null ? { workerMemoryBytes: settings.workerMemoryBytes } : {}),
  });
  try {
    return (await executor.run([plan])).get(plan.taskId)!;
  } finally {
    await executor.close({ force: true });
  }
}

/**
 * A plan's GPU is an index into the devices Slurm gave this element (`--gres=gpu:N` sets
 * CUDA_VISIBLE_DEVICES to them); the task then sees only that one, as on any executor.
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
