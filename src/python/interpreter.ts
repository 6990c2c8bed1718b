/** The environment variable naming the Python interpreter when no `--python` is given. */
export const PYTHON_ENV = 'PLATEFLOW_PYTHON';

/** The interpreter for `py:` steps when none is given: $PLATEFLOW_PYTHON, else `python3` on PATH. */
export function defaultPython(env: NodeJS.ProcessEnv = process.env): string {
  return env[PYTHON_ENV] || 'python3';
}
