/**
 * A persistent Python process that runs `py:` functions on image stacks, one call at a time.
 *
 * Started by the first call and reused by every call after it, so interpreter start-up and imports
 * are paid once. When the process dies under a call (segfault, `os._exit`, OOM kill) or is killed
 * for an abort, that call fails and the next one starts a fresh process: one task's crash never
 * reaches the others.
 *
 * Pixels cross through the worker's arena (arena.ts): one copy in, one copy out on this side;
 * Python maps them without a copy.
 */
import { AbortError } from '../errors.js';
import { allocate, bytesPerPixel, type Allocate, type ImageStack } from '../image.js';
import { describeChildExit } from '../execution/executors/exit-causes.js';
import { TaskKilledError } from '../execution/executors/errors.js';
import type { FunctionOutput } from '../processing/types.js';
import { Arena } from './arena.js';
import { PythonUnavailableError } from './errors.js';
import { BridgeProcess } from './process.js';
import { CALL_REPLY, readReply, type PythonCall } from './protocol.js';
import { pythonRefOf, type PythonTarget } from './target.js';

export interface PythonWorkerOptions {
  /** The interpreter: a name looked up on PATH or a path (a venv's or conda env's python). */
  readonly executable: string;
  /** Added to the environment of the Python process (e.g. OMP_NUM_THREADS). */
  readonly env?: Readonly<Record<string, string>>;
  /** Copy Python's stdout and stderr to our stderr; default true. */
  readonly forwardOutput?: boolean;
  /** Where the shared-memory file may go, first that works; default /dev/shm, then the temp folder. */
  readonly arenaDirs?: readonly string[];
}

export interface PythonCallOptions {
  /** Aborting kills the Python process; the call rejects with an AbortError. */
  readonly signal?: AbortSignal;
  /** Named in the error when the process dies under the call. */
  readonly task?: string;
  /** Where the output array comes from (a task's buffer pool); default a fresh array. */
  readonly allocate?: Allocate;
}

export interface ChainOptions extends PythonCallOptions {
  /**
   * Nothing will read the chain's last output (e.g. a pipeline's last step, kept in memory only):
   * Python checks it as usual but sends no pixels back, and `stack` is undefined. Default false.
   */
  readonly discardOutput?: boolean;
}

/** What a chain returns: the last output (none when discarded), and per call its plane count and measurements. */
export interface ChainOutput {
  readonly stack: ImageStack | undefined;
  readonly steps: readonly { readonly planes: number; readonly measurements?: readonly Readonly<Record<string, number>>[] }[];
}

export class PythonWorker {
  readonly #options: PythonWorkerOptions;
  #process: BridgeProcess | undefined;
  #arena: Arena | undefined;
  /** Calls share the arena, so they run one after another. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: PythonWorkerOptions) {
    this.#options = options;
  }

  /** The pid of the current Python process, if one runs. */
  get pid(): number | undefined {
    return this.#process?.alive ? this.#process.pid : undefined;
  }

  /**
   * Runs `target(stack, **kwargs)` in Python.
   * @throws PythonFunctionError (it raised), PythonResultError (bad return), PythonLoadError,
   *   PythonUnavailableError (no interpreter, no room for the arena), TaskKilledError (the process
   *   died under the call), AbortError
   */
  async call(target: PythonTarget, stack: ImageStack, kwargs: Readonly<Record<string, unknown>>, options: PythonCallOptions = {}): Promise<FunctionOutput> {
    const { stack: out, steps } = await this.callChain([{ target, kwargs }], stack, options);
    const measurements = steps[0]!.measurements;
    return measurements ? { stack: out, measurements } : { stack: out };
  }

  /**
   * Runs a chain in one crossing: each function gets the previous one's output (converted as
   * plateflow stores it), and only the last output comes back. `steps` has, per call, its output's
   * plane count and its measurements. An error names the function that failed (`context.fn`).
   * @throws as {@link call}
   */
  callChain(calls: readonly PythonCall[], stack: ImageStack, options?: PythonCallOptions & { readonly discardOutput?: false }): Promise<ChainOutput & { readonly stack: ImageStack }>;
  callChain(calls: readonly PythonCall[], stack: ImageStack, options: ChainOptions): Promise<ChainOutput>;
  callChain(calls: readonly PythonCall[], stack: ImageStack, options: ChainOptions = {}): Promise<ChainOutput> {
    const run = this.#queue.then(() => this.#call(calls, stack, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts the Python process now and imports the targets' modules, so the first call pays
   * neither. Best effort: a target that does not load fails its call later, with its own error.
   */
  load(targets: readonly PythonTarget[]): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) return;
      const child = await this.#ready();
      await child.request(
        (id) => ({ id, op: 'load', targets }),
        () => new Error('the Python process ended while loading'),
      );
    });
    this.#queue = run.catch(() => undefined);
    return this.#queue as Promise<void>;
  }

  /** Ends the Python process (it exits when its pipe closes) and releases the arena. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    await this.#stop();
  }

  async #call(calls: readonly PythonCall[], stack: ImageStack, options: ChainOptions): Promise<ChainOutput> {
    if (this.#closed) throw new Error('this Python worker is closed');
    if (options.signal?.aborted) throw new AbortError(options.signal.reason);
    const refs = calls.map((c) => pythonRefOf(c.target));
    const ref = refs.join(' → ');
    const child = await this.#ready();
    const arena = this.#arena!;
    arena.write(new Uint8Array(stack.data.buffer, stack.data.byteOffset, stack.data.byteLength), 0);
    const task = options.task ?? ref;
    const onAbort = () => child.kill();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let body: unknown;
    try {
      body = await child.request(
        (id) => ({ id, op: 'call', calls, input: { offset: 0, dtype: stack.dtype, shape: [...stack.shape] }, output: options.discardOutput !== true }),
        (exit) => {
          if (options.signal?.aborted) return new AbortError(options.signal.reason);
          const died = describeChildExit(task, exit);
          return new TaskKilledError(task, `the Python process running ${ref} ${died.message}`, { ...died.context, reason: died.reason });
        },
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    const reply = readReply(body, CALL_REPLY, refs);
    const steps = reply.steps.map((s) => (s.measurements ? { planes: s.planes, measurements: s.measurements } : { planes: s.planes }));
    if (reply.output === null) {
      if (options.discardOutput) return { stack: undefined, steps };
      throw new PythonUnavailableError(`the plateflow bridge sent no output for ${refs.join(', ')}`, { fn: refs.join(', ') });
    }
    const { dtype, shape, offset } = reply.output;
    const data = (options.allocate ?? allocate)(dtype, shape[0] * shape[1] * shape[2]);
    arena.read(new Uint8Array(data.buffer, data.byteOffset, data.length * bytesPerPixel(dtype)), offset);
    return { stack: { dtype, shape, data } as ImageStack, steps };
  }

  /** The live process, starting one (and its arena) when there is none or the last one died. */
  async #ready(): Promise<BridgeProcess> {
    if (this.#process?.alive) return this.#process;
    await this.#stop();
    this.#arena = Arena.open(this.#options.arenaDirs);
    this.#process = new BridgeProcess({
      executable: this.#options.executable,
      arenaFd: this.#arena.fd,
      ...(this.#options.env ? { env: this.#options.env } : {}),
      ...(this.#options.forwardOutput !== undefined ? { forwardOutput: this.#options.forwardOutput } : {}),
    });
    return this.#process;
  }

  async #stop(): Promise<void> {
    const child = this.#process;
    const arena = this.#arena;
    this.#process = undefined;
    this.#arena = undefined;
    if (child) await child.close();
    arena?.close();
  }
}
