/**
 * The one table from "how a worker ended" to the message and reason a person reads in the task's
 * result. Process, subprocess and thread workers all map their endings here so the same failure
 * reads the same whichever executor ran it.
 *
 * A SIGKILL says only that something sent it. It is called an out-of-memory kill only on evidence:
 * the cgroup's OOM-kill counter rose (see {@link OomKillWitness}), or V8's heap-OOM banner is on
 * stderr. What the counter cannot say is *whose* kill it counted: a rise while our worker ran is
 * attributed to the worker that died, though another process in the same cgroup may have been the
 * victim; and a worker that dies while idle is never explained, so its rise may be claimed by the
 * next SIGKILL seen.
 */
import { constants } from 'node:os';
import { readOomKills, type OomKillCount } from '../resources/memory.js';
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

/** What the cgroup's OOM-kill counter says about one SIGKILL. */
export type OomVerdict = { readonly kind: 'oom-kill' | 'no-oom-kill'; readonly file: string } | { readonly kind: 'unknown' };

/**
 * Reads the OOM-kill counter when it is created (before any worker starts) and again at each
 * SIGKILL death. Every rise is a kill to explain; each death claims one, so two workers killed
 * together each find theirs and a later, unrelated SIGKILL finds none.
 */
export class OomKillWitness {
  readonly #read: () => OomKillCount | undefined;
  #seen: number | undefined;
  #unclaimed = 0;

  /** @param read where the counter comes from; tests point it at a fake cgroup folder */
  constructor(read: () => OomKillCount | undefined = () => readOomKills()) {
    this.#read = read;
    this.#seen = read()?.count;
  }

  /** Called when a worker is found dead by SIGKILL. */
  claim(): OomVerdict {
    const now = this.#read();
    if (now === undefined) return { kind: 'unknown' };
    // A counter seen for the first time (it was unreadable at the start) gives no rise to go by.
    if (this.#seen !== undefined && now.count > this.#seen) this.#unclaimed += now.count - this.#seen;
    this.#seen = now.count;
    if (this.#unclaimed === 0) return { kind: 'no-oom-kill', file: now.file };
    this.#unclaimed--;
    return { kind: 'oom-kill', file: now.file };
  }
}

/** Read when the executors load, so before any worker of this process exists. */
const processWitness = new OomKillWitness();

/**
 * A child process that died under a task, not by our hand.
 * @param witness the OOM-kill counter to consult for a SIGKILL; tests pass one on a fake cgroup
 */
export function describeChildExit(task: string, exit: ChildExit, witness: OomKillWitness = processWitness): TaskKilledError {
  const stderr = exit.stderrTail.trim().slice(-1000);
  const base = { pid: exit.pid, exitCode: exit.code, signal: exit.signal, ...(stderr ? { stderr } : {}) };
  if (isHeapOom(exit)) {
    const how = exit.signal ? `signal ${exit.signal}` : `exit ${exit.code}`;
    return new TaskKilledError(task, `killed: ran out of JavaScript heap memory (V8 "JavaScript heap out of memory", ${how})`, { ...base, reason: 'heap-oom' });
  }
  if (exit.signal) {
    const killedBy = `killed by signal ${constants.signals[exit.signal] ?? '?'} (${exit.signal})`;
    // The kernel's OOM killer sends only SIGKILL.
    if (exit.signal !== 'SIGKILL') return new TaskKilledError(task, killedBy, { ...base, reason: 'signal' });
    const verdict = witness.claim();
    if (verdict.kind === 'oom-kill') {
      return new TaskKilledError(task, `${killedBy} from the kernel's out-of-memory killer (the OOM-kill count in ${verdict.file} rose while it ran)`, { ...base, reason: 'oom-kill', oomKillCounter: verdict.file });
    }
    const why =
      verdict.kind === 'no-oom-kill'
        ? `not the out-of-memory killer (the OOM-kill count in ${verdict.file} did not rise), so another process sent it`
        : 'whether the out-of-memory killer sent it is unknown (no cgroup OOM-kill count to check)';
    return new TaskKilledError(task, `${killedBy}: ${why}`, { ...base, reason: 'signal', ...(verdict.kind === 'no-oom-kill' ? { oomKillCounter: verdict.file } : {}) });
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
