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
import type { FuncCall, TaskPlan } from '../compiler/plan.js';
import { isPlateflowError } from '../errors.js';
import type { Allocate, ImageStack } from '../image.js';
import { parsePythonRef, type PythonTarget } from '../python/target.js';
import { PythonWorker, type ChainOutput } from '../python/worker.js';
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

/**
 * Runs consecutive `py:` calls of a chain in this worker's Python process, in one crossing.
 * `discardOutput`: nothing reads the last call's output, so no pixels come back (ChainOptions).
 * @throws as PythonWorker.callChain
 */
export function runPythonChain(
  calls: readonly FuncCall[],
  plan: TaskPlan,
  stack: ImageStack,
  options: { readonly signal?: AbortSignal | undefined; readonly allocate?: Allocate; readonly discardOutput?: boolean },
): Promise<ChainOutput> {
  if (plan.python === null) throw new Error(`plan of task ${plan.taskId} has a Python step (${calls[0]?.fn}) but no interpreter`);
  const worker = workerFor(plan.python.executable);
  return worker.callChain(
    calls.map((c) => ({ target: parsePythonRef(c.fn, '/'), kwargs: c.kwargs })),
    stack,
    { ...(options.signal ? { signal: options.signal } : {}), ...(options.allocate ? { allocate: options.allocate } : {}), discardOutput: options.discardOutput === true, task: plan.taskId },
  );
}

/** The call of `calls` an error from {@link runPythonChain} is about (the bridge names it), else the first. */
export function failedPythonCall(calls: readonly FuncCall[], err: unknown): FuncCall {
  const fn = isPlateflowError(err) ? err.context.fn : undefined;
  return calls.find((c) => c.fn === fn) ?? calls[0]!;
}

/** Starts this worker's Python process for `executable` and imports the targets; see Executor.prepare. */
export function preloadPython(executable: string, targets: readonly PythonTarget[]): Promise<void> {
  return workerFor(executable).load(targets);
}

/** Ends this worker's Python processes (the in-process serial executor's close). */
export async function closePythonWorkers(): Promise<void> {
  const all = [...workers.values()];
  workers.clear();
  await Promise.all(all.map((w) => w.close()));
}
