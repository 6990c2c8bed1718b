/**
 * The check before a run: does the interpreter start, does numpy import, does every module or
 * file import and name a callable? One short-lived bridge process answers all of it at once.
 */
import { formatDuration } from '../execution/resources/units.js';
import { PythonLoadError, PythonUnavailableError } from './errors.js';
import { BridgeProcess } from './process.js';
import { PROBE_REPLY, readReply } from './protocol.js';
import { pythonRefOf, type PythonTarget } from './target.js';

export interface PythonInfo {
  /** The interpreter's own path (sys.executable) and version, and numpy's. */
  readonly executable: string;
  readonly python: string;
  readonly numpy: string;
}

/** Importing scikit-image on a busy machine takes seconds; an import that hangs must not hang the run. */
export const PROBE_TIMEOUT_MS = 120_000;

/**
 * @throws PythonUnavailableError E_PYTHON_UNAVAILABLE when the interpreter does not start or numpy does not import;
 *   PythonLoadError E_MODULE_LOAD naming every target that does not import or is not callable (`context.fn` is the first)
 */
export async function probePython(executable: string, targets: readonly PythonTarget[], timeoutMs = PROBE_TIMEOUT_MS, env?: Readonly<Record<string, string>>): Promise<PythonInfo> {
  const child = new BridgeProcess({ executable, forwardOutput: false, ...(env ? { env } : {}) });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, timeoutMs);
  try {
    const body = await child.request(
      (id) => ({ id, op: 'probe', targets }),
      (exit) => {
        const why = timedOut ? `did not answer within ${formatDuration(timeoutMs)} (an import that never finishes?)` : `exited ${exit.code ?? exit.signal} before answering`;
        const said = exit.stderrTail.trim().split('\n').slice(-8).join('\n');
        return new PythonUnavailableError(`the Python interpreter "${executable}" ${why}${said ? `:\n${said}` : ''}`, { python: executable, ...exit });
      },
    );
    const reply = readReply(body, PROBE_REPLY, [`the interpreter "${executable}"`]);
    if (reply.numpy === undefined) {
      const why = reply.numpyError ? `${reply.numpyError.type}: ${reply.numpyError.message}` : 'unknown error';
      throw new PythonUnavailableError(`numpy does not import in ${reply.executable} (Python ${reply.python}): ${why}; plateflow's Python steps need it (pip install numpy in that environment)`, { python: executable });
    }
    if (reply.failures.length > 0) {
      throw new PythonLoadError(reply.failures.map(({ index, ...exception }) => ({ ref: pythonRefOf(targets[index]!), exception })));
    }
    return { executable: reply.executable, python: reply.python, numpy: reply.numpy };
  } finally {
    clearTimeout(timer);
    await child.close();
  }
}
