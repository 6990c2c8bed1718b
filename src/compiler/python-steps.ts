import { PipelineError } from '../errors.js';
import { defaultPython } from '../python/interpreter.js';
import { probePython } from '../python/probe.js';
import { isPythonRef, parsePythonRef, pythonRefOf, type PythonTarget } from '../python/target.js';
import { callsOf, type PythonPlan, type TaskPlan } from './plan.js';
import type { ResolvedStep } from './resolve-steps.js';

/**
 * `py:` steps need an interpreter that runs, numpy, and every module and function they name. One
 * probe per run checks all of them before any task starts, so a typo fails the run at once (exit 2)
 * instead of every task in turn.
 * @throws PipelineError E_PYTHON_SETUP naming the step and function, with Python's own error
 */
export async function checkPythonSteps(steps: readonly ResolvedStep[], interpreter: string | undefined): Promise<PythonPlan | null> {
  const uses = new Map<string, { step: ResolvedStep; target: PythonTarget }>();
  for (const step of steps) {
    for (const call of callsOf(step.pattern)) {
      if (isPythonRef(call.fn) && !uses.has(call.fn)) uses.set(call.fn, { step, target: parsePythonRef(call.fn, '/') });
    }
  }
  if (uses.size === 0) return null;
  const executable = interpreter ?? defaultPython();
  try {
    await probePythonOnce(executable, [...uses.values()].map((u) => u.target));
  } catch (err) {
    const ref = (err as { context?: { fn?: unknown } }).context?.fn;
    const use = typeof ref === 'string' ? uses.get(ref) : undefined;
    const where = use ? `step ${use.step.index + 1} "${use.step.name}", function ${ref}: ` : '';
    throw new PipelineError('E_PYTHON_SETUP', `${where}${(err as Error).message}`, { ...(use ? { step: use.step.name, fn: ref as string } : {}), python: executable }, { cause: err });
  }
  return { executable };
}

/** A batch compiles once per plate; the probe's answer for the same interpreter and targets is reused. */
const probes = new Map<string, Promise<unknown>>();

function probePythonOnce(executable: string, targets: readonly PythonTarget[]): Promise<unknown> {
  const key = JSON.stringify([executable, targets.map(pythonRefOf).sort()]);
  let probe = probes.get(key);
  if (!probe) {
    probe = probePython(executable, targets);
    probes.set(key, probe);
    probe.catch(() => probes.delete(key));
  }
  return probe;
}

/** What the plans' Python steps need loaded in every worker: interpreters and the functions each runs. */
export function pythonNeeds(plans: readonly TaskPlan[]): Map<string, PythonTarget[]> {
  const needs = new Map<string, Map<string, PythonTarget>>();
  for (const plan of plans) {
    if (plan.python === null) continue;
    const targets = needs.get(plan.python.executable) ?? new Map<string, PythonTarget>();
    needs.set(plan.python.executable, targets);
    for (const step of plan.steps) for (const call of callsOf(step.pattern)) if (isPythonRef(call.fn) && !targets.has(call.fn)) targets.set(call.fn, parsePythonRef(call.fn, '/'));
  }
  return new Map([...needs].map(([executable, targets]) => [executable, [...targets.values()]]));
}
