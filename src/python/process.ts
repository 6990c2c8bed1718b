/**
 * One running python/plateflow_bridge.py, seen from Node: requests out on its fd 3, replies in on
 * its fd 4, and how it ended when it ends. Calls and probes both go through here; what they ask
 * and how replies are read is in protocol.ts.
 *
 * The process dies with the thread that started it (the bridge asks the kernel for
 * PR_SET_PDEATHSIG), so a worker thread terminated for a timeout, or plateflow killed, takes its
 * Python with it; and it exits by itself when its request pipe closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { ChildExit } from '../execution/executors/exit-causes.js';
import { PythonUnavailableError } from './errors.js';
import { PYTHON_ENV } from './interpreter.js';
import { parseEnvelope, type Request } from './protocol.js';

/** Shipped beside dist/ (package.json "files"); the same relative place from src/ and dist/. */
export const BRIDGE_SCRIPT = fileURLToPath(new URL('../../python/plateflow_bridge.py', import.meta.url));

/** Enough of stderr for a Python traceback or faulthandler's dump of the crashing stack. */
const STDERR_TAIL = 8192;
/** After `exit`, how long stderr may take to drain (faulthandler writes as the process dies). */
const STDERR_GRACE_MS = 250;

export interface BridgeProcessOptions {
  readonly executable: string;
  /** Added to this process's environment (thread-count limits). */
  readonly env?: Readonly<Record<string, string>>;
  /** The arena's descriptor, passed to the child as its fd 5; none for a probe. */
  readonly arenaFd?: number;
  /** Copy the child's stdout and stderr to our stderr (user prints); its stderr tail is kept either way. */
  readonly forwardOutput?: boolean;
}

type Pending = { readonly resolve: (body: unknown) => void; readonly reject: (err: Error) => void };

export class BridgeProcess {
  readonly pid: number | undefined;
  readonly executable: string;
  readonly #child: ChildProcess;
  readonly #requests: Writable;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<ChildExit>;
  #stderrTail = '';
  #nextId = 1;
  #alive = true;
  /** Set when the process could not be started at all (no such interpreter). */
  #spawnError: Error | undefined;

  constructor(options: BridgeProcessOptions) {
    this.executable = options.executable;
    const args = ['-u', BRIDGE_SCRIPT, '--parent-pid', String(process.pid), ...(options.arenaFd !== undefined ? ['--arena-fd', '5'] : [])];
    const arena = options.arenaFd !== undefined ? [options.arenaFd] : [];
    this.#child = spawn(options.executable, args, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...arena],
    });
    this.pid = this.#child.pid;
    const forward = options.forwardOutput ?? true;
    // Our stdout may be a JSON report (`--json`): the child's output only ever goes to our stderr.
    this.#child.stdout?.on('data', (chunk: Buffer) => forward && process.stderr.write(chunk));
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      if (forward) process.stderr.write(chunk);
    });
    this.#requests = this.#child.stdio[3] as Writable;
    // A write to a pipe whose reader died is EPIPE; the exit that follows rejects the calls.
    this.#requests.on('error', () => undefined);
    this.#readReplies(this.#child.stdio[4] as Readable);
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
        if (this.pid !== undefined) return;
        this.#spawnError = err;
        finish(null, null);
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Settles once the process has exited and its stderr was read. */
  get exited(): Promise<ChildExit> {
    return this.#exited;
  }

  /**
   * Sends one request; resolves with the reply object (unchecked: see protocol.ts), or rejects with
   * `died(exit)` when the process ends first.
   */
  request(build: (id: number) => Request, died: (exit: ChildExit) => Error): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      void this.#exited.then((exit) => {
        if (!this.#pending.delete(id)) return;
        reject(this.#spawnError ? this.#cannotStart(this.#spawnError) : died(exit));
      });
      if (this.#alive) this.#requests.write(`${JSON.stringify(build(id))}\n`);
    });
  }

  /** SIGKILL: a Python function stuck in C code ignores everything else. */
  kill(): void {
    if (this.#alive) this.#child.kill('SIGKILL');
  }

  /** Closes the request pipe (the bridge exits at its end); SIGKILL if it has not gone after `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    this.#requests.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #cannotStart(err: Error): Error {
    return new PythonUnavailableError(`cannot start the Python interpreter "${this.executable}" (${err.message}); give another with --python PATH or ${PYTHON_ENV}`, { python: this.executable }, { cause: err });
  }

  #readReplies(replies: Readable): void {
    let buffered = '';
    replies.setEncoding('utf8');
    replies.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const reply = parseEnvelope(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        const pending = reply && this.#pending.get(reply.id);
        if (!reply || !pending) continue;
        this.#pending.delete(reply.id);
        pending.resolve(reply.body);
      }
    });
    replies.on('error', () => undefined);
  }
}
