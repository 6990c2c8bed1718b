/**
 * Distributed runs on BullMQ + Redis: the `bullmq` executor (coordinator side), the worker that
 * runs tasks in sandboxed child processes, run status, and the job schema both sides share.
 * local-redis.ts (tests and benchmarks) is deliberately not exported.
 *
 * @module
 */
export { REDIS_URL_ENV, parseRedisUrl, redactRedisUrl, type RedisInput } from './connection.js';
export { JobFailedError, RetryableTaskError, RunNotFoundError, RunRecordError } from './errors.js';
export { BullmqExecutor, createBullmqExecutor } from './executor.js';
export { DEFAULT_RETRY_ON, JOB_FORMAT_VERSION, decodeJobReturn, decodeTaskJob, encodePlan, taskPlanSchema, type TaskJobData } from './job-schema.js';
export { DEFAULT_PREFIX, DEFAULT_QUEUE, newRunId } from './names.js';
export { resolveBullmqOptions, type BullmqExecutorOptions } from './options.js';
export { assertPlanInsideRoots, resolveRoots } from './roots.js';
export { statusOptionsFor, type StatusRequest } from './run-record.js';
export { DEFAULT_RUN_TTL_SECONDS } from './run-store.js';
export { TASK_STATES, formatRunStatus, getRunOutputRoots, getRunStatus, type RunStatus, type RunStatusOptions, type TaskState, type TaskStatusEntry } from './status.js';
export { PlateflowWorker, startWorker, type WorkerEvent, type WorkerOptions } from './worker.js';
