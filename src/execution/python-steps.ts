/**
 * `py:` functions in the task runtime. Each plateflow worker (a thread, a child process, or the
 * caller's thread for the in-process serial executor) keeps one Python process per interpreter,
 * started by the first Python step it meets and reused for every task after it, so imports and
 * interpreter start-up are paid once per worker, not per call.
 *
 * The Python process ends with its worker: it asks the kernel for SIGKILL when the thread that
 * started it ends (a thread killed for a timeout, a pool closed, plateflow gone), see
 * python/worker.ts. The in-process serial executor closes them itself.
 *
 * @module
 */
import { workerData } from 'node:worker_threads';
import type { TaskPlan } from '../compiler/plan.js';
import type { ImageFunction } from '../processing/types.js';
import { parsePythonRef } from '../python/target.js';
import { PythonWorker } from '../python/worker.js';
import type { ThreadWorkerData } from './thread-entry.js';

const workers = new Map<string, PythonWorker>();

/** The thread limits of this worker thread; child workers have theirs in their env already. */
function threadLimits(): Readonly<Record<string, string>> {
  return (workerData as Partial<ThreadWorkerData> | null)?.threadLimits ?? {};
}

function workerFor(executable: string): PythonWorker {
  let worker = workers.get(executable);
  if (!worker) workers.set(executable, (worker = new PythonWorker({ executable, env: threadLimits() })));
  return worker;
}

/** The function behind a `py:` reference of this plan, run by this worker's Python process. */
export function pythonFunction(ref: string, plan: TaskPlan): ImageFunction<Readonly<Record<string, unknown>>> {
  const target = parsePythonRef(ref, '/');
  if (plan.python === null) throw new Error(`plan of task ${plan.taskId} has a Python step (${ref}) but no interpreter`);
  const worker = workerFor(plan.python.executable);
  return (stack, kwargs, ctx) => worker.call(target, stack, kwargs, { ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.allocate ? { allocate: ctx.allocate } : {}), task: plan.taskId });
}

/** Ends this worker's Python processes (the in-process serial executor's close). */
export async function closePythonWorkers(): Promise<void> {
  const all = [...workers.values()];
  workers.clear();
  await Promise.all(all.map((w) => w.close()));
}
