/**
 * Results the coordinator of a distributed run writes itself, for tasks no worker reported on: a
 * job BullMQ failed on its own, a job that kept vanishing from Redis, a reply that does not decode,
 * a running task whose worker did not confirm a cancel in time.
 */
import type { Job } from 'bullmq';
import type { TaskPlan } from '../compiler/plan.js';
import { serializeError } from '../errors.js';
import type { TaskResult, TaskStatus } from '../execution/result.js';
import { JobFailedError } from './errors.js';

/** A result with nothing computed: this status, this error. */
export function resultWithout(plan: TaskPlan, status: TaskStatus, error: unknown): TaskResult {
  return { taskId: plan.taskId, axis: plan.axis, status, error: serializeError(error), seconds: 0, images: plan.inputs.length, outputs: [], measurements: [] };
}

/** The result of a job BullMQ itself failed (see JobFailedError): `killed` when its workers were lost. */
export function failedJobResult(plan: TaskPlan, jobId: string, job: Job): TaskResult {
  const stalls = job.stalledCounter ?? 0;
  const error = new JobFailedError(plan.taskId, jobId, job.failedReason ?? '', stalls);
  const seconds = job.finishedOn && job.processedOn ? Math.max(0, (job.finishedOn - job.processedOn) / 1000) : 0;
  return { ...resultWithout(plan, stalls > 0 ? 'killed' : 'error', error), seconds, attempts: Math.max(job.attemptsStarted ?? 0, job.attemptsMade ?? 0) };
}
