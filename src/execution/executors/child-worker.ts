/**
 * One forked worker process, seen from the parent: sends it a plan, and settles with its answer or
 * with how it died. A death is noticed from the `exit` event (the kernel's SIGCHLD), so a worker
 * killed by the OOM killer surfaces in milliseconds instead of leaving its task waiting forever.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TaskPlan } from '../../compiler/plan.js';
import type { SerializedError } from '../../errors.js';
import type { TaskResult } from '../result.js';
import { PROGRESS_ENV, isChildMessage, type ChildMessage, type ParentMessage } from './child-protocol.js';
import type { ChildExit } from './exit-causes.js';

/** Compiled next to the executors in dist/; a child cannot load TypeScript. */
export const CHILD_ENTRY = fileURLToPath(new URL('../child-entry.js', import.meta.url));

/** Why the parent killed a worker, when it did. */
export type KillCause = { readonly kind: 'memory-limit'; readonly rssBytes: number; readonly limitBytes: number } | { readonly kind: 'stopped' };

export type ChildOutcome =
  | { readonly kind: 'result'; readonly result: TaskResult; readonly sampledPeakRss: number }
  | { readonly kind: 'error'; readonly error: SerializedError }
  | { readonly kind: 'died'; readonly exit: ChildExit; readonly killedFor: KillCause | undefined; readonly sampledPeakRss: number };

export interface ChildWorkerOptions {
  readonly entry?: string;
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly forwardOutput: boolean;
  readonly gpuId: number | null;
  /** How often the child reports its RSS while a task runs (0 = never). */
  readonly progressMs: number;
}

/** Enough of stderr to hold V8's out-of-memory banner and a short stack. */
const STDERR_TAIL = 8192;
/** After `exit`, how long to wait for the rest of stderr (it may hold the OOM banner) before deciding the cause. */
const STDERR_GRACE_MS = 250;

// Every live child, so that however this process ends (process.exit on a second Ctrl-C, an
// uncaught error) they are killed synchronously on the way out and none is orphaned.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

export class ChildWorker {
  readonly pid: number | undefined;
  readonly gpuId: number | null;
  readonly #child: ChildProcess;
  readonly #exited: Promise<ChildExit>;
  #stderrTail = '';
  #current: { readonly id: number; readonly begin: () => void; readonly settle: (o: ChildOutcome) => void; peak: number } | undefined;
  #nextId = 1;
  #killedFor: KillCause | undefined;
  #lastReportedRss: number | undefined;
  #alive = true;
  #markReady!: () => void;
  /** Settles when the worker has loaded the task code, or has exited. */
  readonly ready = new Promise<void>((resolve) => {
    this.#markReady = resolve;
  });

  constructor(options: ChildWorkerOptions) {
    this.gpuId = options.gpuId;
    const env = { ...options.env, ...(options.progressMs > 0 ? { [PROGRESS_ENV]: String(options.progressMs) } : {}) };
    this.#child = fork(options.entry ?? CHILD_ENTRY, [], {
      execArgv: [...options.execArgv],
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.pid = this.#child.pid;
    track(this.#child);
    // A child's stdout would corrupt our own (e.g. `--json`), so both of its streams go to our stderr.
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      if (options.forwardOutput) process.stderr.write(chunk);
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      if (options.forwardOutput) process.stderr.write(chunk);
    });
    this.#child.on('message', (message: unknown) => this.#onMessage(message));
    this.#exited = new Promise<ChildExit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        this.#alive = false;
        let done = false;
        const settle = () => {
          if (done) return;
          done = true;
          clearTimeout(grace);
          resolve({ ...(this.pid !== undefined ? { pid: this.pid } : {}), code, signal, stderrTail: this.#stderrTail });
        };
        const grace = setTimeout(settle, STDERR_GRACE_MS);
        if (this.#child.stderr && !this.#child.stderr.readableEnded) this.#child.stderr.once('close', settle);
        else settle();
      };
      this.#child.once('exit', finish);
      this.#child.on('error', (err) => {
        // fork itself failed (EAGAIN, ENOMEM): there is no process and there will be no 'exit'.
        // Other errors (a failed kill or send) are followed by the real 'exit'.
        if (this.pid !== undefined) return;
        this.#stderrTail += `\n${err.message}`;
        finish(null, null);
      });
    });
    void this.#exited.then((exit) => {
      this.#markReady();
      const current = this.#current;
      this.#current = undefined;
      current?.settle({ kind: 'died', exit, killedFor: this.#killedFor, sampledPeakRss: current.peak });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  get busy(): boolean {
    return this.#current !== undefined;
  }

  /** Resolves once the process has exited (and its stderr was read). */
  get exited(): Promise<ChildExit> {
    return this.#exited;
  }

  /** `started` resolves when the child begins the task (never, if it dies first); `outcome` settles with how it ended. */
  run(plan: TaskPlan, threads = 1): { readonly started: Promise<void>; readonly outcome: Promise<ChildOutcome> } {
    if (this.#current) throw new Error(`worker ${this.pid} is already running a task`);
    const id = this.#nextId++;
    let begin!: () => void;
    const started = new Promise<void>((resolve) => (begin = resolve));
    const outcome = new Promise<ChildOutcome>((settle) => {
      this.#current = { id, begin, settle, peak: 0 };
    });
    const message: ParentMessage = { type: 'run', id, plan, threads };
    // A send error means the channel is gone; the 'exit' that follows settles the task.
    if (this.#alive && this.#child.connected) this.#child.send(message, (err) => err && this.kill({ kind: 'stopped' }));
    return { started, outcome };
  }

  /** Current RSS: from /proc on Linux (works while the child is stuck in a loop), else its last heartbeat. */
  sampleRss(): number | undefined {
    let rss = this.#lastReportedRss;
    if (this.pid !== undefined) {
      try {
        const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
        if (m) rss = Number(m[1]) * 1024;
      } catch {
        // Not Linux, or the process just exited.
      }
    }
    if (rss !== undefined && this.#current) this.#current.peak = Math.max(this.#current.peak, rss);
    return rss;
  }

  /** SIGKILL: the only signal a CPU-bound or wedged worker cannot ignore. The first cause given is the one reported. */
  kill(cause: KillCause): void {
    if (!this.#alive) return;
    this.#killedFor ??= cause;
    this.#child.kill('SIGKILL');
  }

  /** Graceful end: closing the IPC channel makes an idle child exit by itself. */
  retire(): void {
    if (this.#alive && this.#child.connected) this.#child.disconnect();
  }

  #onMessage(message: unknown): void {
    if (!isChildMessage(message)) return;
    if (message.type === 'ready') {
      this.#markReady();
      return;
    }
    const current = this.#current;
    if (!current || message.id !== current.id) return;
    const m: ChildMessage = message;
    if (m.type === 'started') {
      current.begin();
      return;
    }
    if (m.type === 'progress') {
      this.#lastReportedRss = m.rssBytes;
      current.peak = Math.max(current.peak, m.rssBytes);
      return;
    }
    this.#current = undefined;
    if (m.type === 'result') current.settle({ kind: 'result', result: m.result, sampledPeakRss: current.peak });
    else current.settle({ kind: 'error', error: m.error });
  }
}
