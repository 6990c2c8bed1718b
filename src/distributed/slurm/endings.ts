/**
 * What happened to an element that left the queue without writing a result, from what Slurm says
 * of it (`scontrol show job`) and the end of its stderr. Every ending is one of three verdicts: a
 * task result to record, a loss that is not the task's fault (resubmit without using an attempt),
 * or "wait": Slurm still counts it as pending or running.
 */
import { PlateflowError, serializeError } from '../../errors.js';
import { TaskKilledError } from '../../execution/executors/errors.js';
import type { TaskPlan } from '../../compiler/plan.js';
import type { TaskResult } from '../../execution/result.js';
import type { JobRecord } from './commands.js';

export type Ending = { readonly kind: 'result'; readonly result: TaskResult } | { readonly kind: 'lost'; readonly why: string } | { readonly kind: 'wait' };

export interface EndingContext {
  readonly plan: TaskPlan;
  /** `<array job id>_<element>`, for messages. */
  readonly element: string;
  /** The end of the element's stderr file, if any. */
  readonly stderrTail: string;
  /** The memory and time the element asked for, for the messages of those kills. */
  readonly mem: string | null;
  readonly time: string | null;
  /** True when plateflow itself scancelled it (a cancelled run, a timeout): not an outside cancel. */
  readonly cancelledByUs: boolean;
}

/** States after which Slurm runs the element again by itself, or will once it is requeued. */
const LIVE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESV_DEL_HOLD']);
/** Slurm will still run the element, or is running it. */
export function isLiveState(state: string): boolean {
  return LIVE.has(state.split(' ')[0]!.toUpperCase());
}

/** The node or the scheduler took the element away: not the task's doing. */
const LOST = new Set(['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);
/** What the test cluster's jobacct_gather OverMemoryKill prints before it kills a step. */
const MEMORY_LINE = /exceeded memory limit[^\n]*/;

/** @param record undefined when Slurm no longer knows the element (MinJobAge passed, no accounting) */
export function endingOf(record: JobRecord | undefined, c: EndingContext): Ending {
  const killed = (message: string, details: Record<string, unknown> = {}): Ending => result(c, 'killed', new TaskKilledError(c.plan.taskId, message, { reason: 'signal', ...details, ...(c.stderrTail ? { stderr: c.stderrTail } : {}) }));
  if (record === undefined) return killed(`Slurm element ${c.element} ended without a result, and Slurm no longer knows how (no accounting database keeps it)`);
  const state = record.state.split(' ')[0]!.toUpperCase();
  if (isLiveState(state)) return { kind: 'wait' };
  if (LOST.has(state)) return { kind: 'lost', why: `Slurm element ${c.element} ended ${state}${record.reason && record.reason !== 'None' ? ` (${record.reason})` : ''}` };
  const memoryLine = MEMORY_LINE.exec(c.stderrTail)?.[0];
  if (state === 'OUT_OF_MEMORY' || memoryLine !== undefined) {
    const limit = c.mem !== null ? ` (--slurm-mem ${c.mem})` : '';
    return result(c, 'killed', new TaskKilledError(c.plan.taskId, `killed by Slurm for exceeding its memory limit${limit}${memoryLine ? `: ${memoryLine.trim()}` : ''}`, { reason: 'memory-limit', ...(c.stderrTail ? { stderr: c.stderrTail } : {}) }));
  }
  if (state === 'TIMEOUT') {
    const limit = c.time !== null ? ` (--slurm-time ${c.time})` : '';
    return result(c, 'timeout', new PlateflowError('E_TASK_TIMEOUT', `Slurm ended element ${c.element} at its time limit${limit}`, { task: c.plan.taskId }));
  }
  if (state === 'CANCELLED') {
    if (c.cancelledByUs) return result(c, 'cancelled', new PlateflowError('E_ABORTED', 'cancelled: plateflow scancelled its element', { task: c.plan.taskId }));
    return killed(`Slurm element ${c.element} was cancelled outside plateflow (scancel by a user or an admin)`, { exitCode: record.exitCode, signal: record.signal || null });
  }
  const how = record.signal ? `signal ${record.signal}` : `exit code ${record.exitCode}`;
  return killed(`Slurm element ${c.element} ended ${state} (${how}) without a result`, { exitCode: record.exitCode, signal: record.signal || null });
}

function result(c: EndingContext, status: TaskResult['status'], error: PlateflowError): Ending {
  return {
    kind: 'result',
    result: { taskId: c.plan.taskId, axis: c.plan.axis, status, error: serializeError(error), seconds: 0, images: c.plan.inputs.length, outputs: [], measurements: [] },
  };
}
