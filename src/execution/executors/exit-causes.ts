/**
 * The one table from "how a worker ended" to the message and reason a person reads in the task's
 * result. Process, subprocess and thread workers all map their endings here so the same failure
 * reads the same whichever executor ran it.
 */
import { constants } from 'node:os';
import { formatBytes } from '../resources/units.js';
import { TaskKilledError, type KillDetails } from './errors.js';

export interface ChildExit {
  readonly pid?: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Last few KB of the worker's stderr: V8 prints its heap-OOM banner there before aborting. */
  readonly stderrTail: string;
}

/**
 * V8 prints one of these and aborts when the JS heap is full: the process ends by SIGABRT (a
 * shell shows exit 134), or with code 134 when a wrapper such as `sh -c` stands between us.
 */
const HEAP_OOM_MARKERS = ['JavaScript heap out of memory', 'Reached heap limit', 'Allocation failed - process out of memory'];

export function isHeapOom(exit: ChildExit): boolean {
  return exit.code !== 0 && HEAP_OOM_MARKERS.some((m) => exit.stderrTail.includes(m));
}

/** A child process that died under a task, not by our hand. */
export function describeChildExit(task: string, exit: ChildExit): TaskKilledError {
  const stderr = exit.stderrTail.trim().slice(-1000);
  const base = { pid: exit.pid, exitCode: exit.code, signal: exit.signal, ...(stderr ? { stderr } : {}) };
  if (isHeapOom(exit)) {
    const how = exit.signal ? `signal ${exit.signal}` : `exit ${exit.code}`;
    return new TaskKilledError(task, `killed: ran out of JavaScript heap memory (V8 "JavaScript heap out of memory", ${how})`, { ...base, reason: 'heap-oom' });
  }
  if (exit.signal === 'SIGKILL') {
    return new TaskKilledError(task, 'killed (likely OOM): worker received SIGKILL, which on Linux is usually the kernel out-of-memory killer', { ...base, reason: 'likely-oom' });
  }
  if (exit.signal) {
    const number = constants.signals[exit.signal];
    return new TaskKilledError(task, `killed by signal ${number ?? exit.signal} (${exit.signal})`, { ...base, reason: 'signal' });
  }
  return new TaskKilledError(task, `exited ${exit.code ?? '?'} with no result`, { ...base, reason: 'exit' });
}

/** We killed the worker because its RSS went over `--worker-memory`. */
export function memoryLimitExceeded(task: string, pid: number | undefined, rssBytes: number, limitBytes: number): TaskKilledError {
  return new TaskKilledError(task, `killed: exceeded memory limit (RSS ${formatBytes(rssBytes)} > ${formatBytes(limitBytes)})`, { reason: 'memory-limit', pid, rssBytes, memoryLimitBytes: limitBytes });
}

/** The worker process could not be started at all (fork failed, entry file missing). */
export function spawnFailed(task: string, err: Error): TaskKilledError {
  return new TaskKilledError(task, `killed: worker could not start: ${err.message}`, { reason: 'spawn-failed' });
}

/**
 * How piscina reports a thread that ended under a task. Node gives an out-of-memory worker the
 * error code ERR_WORKER_OUT_OF_MEMORY; for any other exit piscina 5 only has the text
 * "worker exited with code: N" (no code property), so that one message is parsed here, pinned by
 * a test against the installed piscina.
 */
export function describeThreadFailure(task: string, err: unknown, heapLimitBytes: number | undefined): TaskKilledError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return heapLimitBytes !== undefined
      ? new TaskKilledError(task, `killed: exceeded memory limit (worker thread reached its ${formatBytes(heapLimitBytes)} heap limit)`, { reason: 'memory-limit', memoryLimitBytes: heapLimitBytes })
      : new TaskKilledError(task, 'killed: ran out of JavaScript heap memory in its worker thread', { reason: 'heap-oom' });
  }
  const exited = err instanceof Error ? /^worker exited with code: (-?\d+)$/.exec(err.message) : null;
  if (exited) {
    const exitCode = Number(exited[1]);
    return new TaskKilledError(task, `exited ${exitCode} with no result (process.exit in a worker thread ends only that thread)`, { reason: 'thread-exit', exitCode });
  }
  return undefined;
}

export type { KillDetails };
