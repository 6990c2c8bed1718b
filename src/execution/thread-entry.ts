/**
 * Worker-thread side of the `threads` executor, loaded by piscina by path (never exported from the
 * package). It runs one plan with the same `runTask` as every executor; user modules are loaded
 * once per thread by `runTask`'s registry cache.
 */
import { closeKernelThreads } from '../arrays/kernel-threads.js';
import type { PythonTarget } from '../python/target.js';
import { closePythonWorkers, preloadPython } from './python-steps.js';
import type { MessagePort } from 'node:worker_threads';
import type { TaskPlan } from '../compiler/plan.js';
import type { TaskResult } from './result.js';
import { prepareWorker, runTask } from './run-task.js';

/**
 * Sent once to each thread by `ThreadsExecutor.start`. `arrived` (one Int32) counts the threads
 * that are ready; each waits for all `threads` of them, since a thread done early would otherwise
 * take a second request and leave another thread cold.
 */
export interface WarmUpRequest {
  readonly warmUp: { readonly arrived: SharedArrayBuffer; readonly threads: number; readonly timeoutMs: number };
  /** Also start this interpreter and import these functions' modules (Executor.prepare). */
  readonly python?: { readonly executable: string; readonly targets: readonly PythonTarget[] };
  /** Instead, end the thread's Python processes (the pool is closing). */
  readonly closePython?: boolean;
}

/**
 * What every thread of a pool is started with. Threads share the process's environment, so the
 * thread-limit variables a child worker would get in its env (see resources/env-limits.ts) come
 * here, for the processes a thread starts itself (its Python worker).
 */
export interface ThreadWorkerData {
  readonly threadLimits: Readonly<Record<string, string>>;
}

/** One task. `started` gets one message when the task begins, which is when its timeout starts. */
export interface TaskRequest {
  readonly plan: TaskPlan;
  readonly started: MessagePort;
  /** Compute threads the task may use (see `Attempt.threads`). */
  readonly threads: number;
}

export default async function runPlanInThread(message: TaskRequest | WarmUpRequest): Promise<TaskResult | null> {
  if ('warmUp' in message) {
    // The pool is closing: end what this thread started (its Python processes, its chunk threads).
    if (message.closePython) await Promise.all([closePythonWorkers(), closeKernelThreads()]);
    else await prepareWorker();
    if (message.python) await preloadPython(message.python.executable, message.python.targets).catch(() => undefined);
    awaitOthers(message.warmUp);
    return null;
  }
  // Loading the task code, WASM kernels and the plan's modules is the thread's start-up, not the
  // task's time. A failure here is left for the task to meet again and report as its own.
  await prepareWorker(message.plan.modules).catch(() => undefined);
  message.started.postMessage(null);
  message.started.close();
  const result = await runTask(message.plan, { threads: message.threads });
  // Threads share the process: this is the process's RSS when the task ended, or the highest
  // per-step peak when --memory-debug sampled them; never the task's own peak alone.
  return { ...result, peakRssBytes: Math.max(process.memoryUsage.rss(), ...(result.steps ?? []).map((s) => s.peakRssBytes ?? 0)) };
}

function awaitOthers({ arrived, threads, timeoutMs }: WarmUpRequest['warmUp']): void {
  const count = new Int32Array(arrived);
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
  const deadline = performance.now() + timeoutMs;
  for (let seen = Atomics.load(count, 0); seen < threads; seen = Atomics.load(count, 0)) {
    const left = deadline - performance.now();
    if (left <= 0) return; // best effort: a thread that never came only starts cold
    Atomics.wait(count, 0, seen, left);
  }
}
