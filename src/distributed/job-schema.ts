/**
 * What one BullMQ job carries and what it returns, as zod schemas. The worker trusts nothing in
 * Redis: a job's plan is parsed against {@link taskPlanSchema} (every field, strict objects, safe
 * relative paths, absolute roots) and deep-frozen before anything runs, and the coordinator parses
 * results the same way before it records them.
 *
 * Plans and results travel as JSON text inside the job (see json-codec.ts for why not plain JSON),
 * and the plan's SHA-256 (`planHash`) travels with it: the worker checks it, and the coordinator
 * uses it to tell a result of this plan from one of an earlier, different plan under the same run.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { PLAN_FORMAT_VERSION, deepFreeze, type TaskPlan } from '../compiler/plan.js';
import { PipelineError } from '../errors.js';
import type { TaskResult, TaskStatus } from '../execution/result.js';
import { assertSafeRelativePath, assertSafeSegment } from '../storage/safe-path.js';
import { JsonCodecError, decodeJson, encodeJson } from './json-codec.js';
import { acquisitionSchema } from '../microscopes/acquisition-schema.js';

/** Version of the job envelope; a worker refuses envelopes it does not know. */
export const JOB_FORMAT_VERSION = 1;

/** The statuses after which a task may be tried again by default: a crash or a hang may be transient. */
export const DEFAULT_RETRY_ON: readonly TaskStatus[] = ['killed', 'timeout'];

const TASK_STATUSES = ['ok', 'error', 'skipped', 'cancelled', 'timeout', 'killed'] as const satisfies readonly TaskStatus[];

const name = z.string().min(1).max(1024);
const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p) && !p.includes('\0') && !p.split(/[\\/]/).includes('..'), 'must be an absolute path without ".." segments');
const relativePath = z
  .string()
  .max(4096)
  .refine((p) => safe(() => assertSafeRelativePath(p)), 'must be a relative path of plain segments (no "..", no absolute path)');
const segment = z.string().max(255).refine((p) => safe(() => assertSafeSegment(p)), 'must be a single safe path segment');
const stringMap = z.record(z.string(), z.string());
/** Any number, NaN and ±Infinity included (a measurement may be either; z.number() refuses them). */
const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const kwargs = z.record(z.string(), z.unknown());
const funcCall = z.strictObject({ fn: name, kwargs });
const chain = z.array(funcCall).nullable();

function safe(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

const stepPlan = z.strictObject({
  index: z.number().int().min(0),
  name: z.string().min(1).max(200),
  id: segment,
  variableComponents: z.array(name),
  groupBy: name.nullable(),
  pattern: z.strictObject({ default: chain, byGroup: z.record(z.string(), z.array(funcCall)) }),
  backend: z.enum(['memory', 'disk']),
  outputDir: absolutePath.nullable(),
  outputFormat: z.enum(['tiff', 'ome-zarr@0.4', 'ome-zarr@0.5']).nullable(),
  main: z.boolean(),
  gpu: z.boolean(),
  hash: z.string().min(1).max(128),
});

export const taskPlanSchema = z
  .strictObject({
    formatVersion: z.literal(PLAN_FORMAT_VERSION),
    taskId: name,
    axis: stringMap,
    plate: z.strictObject({
      root: absolutePath,
      format: name,
      componentOrder: z.array(name),
      nameComponents: z.array(name),
      grid: z.strictObject({ rows: z.number().int().min(1), columns: z.number().int().min(1) }).nullable(),
      acquisition: acquisitionSchema.optional(),
    }),
    inputs: z.array(z.strictObject({ path: relativePath, components: stringMap, page: z.number().int().min(0).optional(), sample: z.union([z.number().int().min(0), z.literal('luminance')]).optional() })),
    inputsKey: z.string().regex(/^[0-9a-f]{16}$/),
    steps: z.array(stepPlan).min(1),
    outputRoot: absolutePath,
    modules: z.array(z.string().min(1).max(4096)),
    resources: z.strictObject({ weight: z.number().min(0), gpuId: z.number().int().min(0).nullable(), bufferPoolBytes: z.number().int().min(0).optional() }),
    checkpoints: z.strictObject({ reuse: z.boolean(), fromStep: z.number().int().min(0).nullable(), toStep: z.number().int().min(0).nullable(), verifyInputs: z.boolean() }),
    memoryDebug: z.boolean(),
    python: z.strictObject({ executable: z.string().min(1) }).nullable(),
  })
  .superRefine((plan, ctx) => {
    plan.steps.forEach((step, i) => {
      if (step.index !== i) ctx.addIssue({ code: 'custom', path: ['steps', i, 'index'], message: `must be ${i}` });
      if ((step.backend === 'disk') !== (step.outputDir !== null)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'outputDir'], message: 'a disk step needs an output directory, a memory step none' });
      if ((step.backend === 'disk') !== (step.outputFormat !== null)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'outputFormat'], message: 'a disk step needs an output format, a memory step none' });
      if (step.outputDir !== null && path.dirname(step.outputDir) !== plan.outputRoot) ctx.addIssue({ code: 'custom', path: ['steps', i, 'outputDir'], message: 'must be a direct sub-directory of outputRoot' });
    });
    for (const key of ['fromStep', 'toStep'] as const) {
      const v = plan.checkpoints[key];
      if (v !== null && v >= plan.steps.length) ctx.addIssue({ code: 'custom', path: ['checkpoints', key], message: 'names no step' });
    }
  });

// The schema's output must be a TaskPlan: a field added to TaskPlan and forgotten here fails to compile.
const _planShape: (p: z.infer<typeof taskPlanSchema>) => TaskPlan = (p) => p;
void _planShape;

/** The job's data in Redis. */
export const taskJobSchema = z.strictObject({
  v: z.literal(JOB_FORMAT_VERSION),
  runId: z.string().min(1).max(200),
  /** Identity of the task within the run (output root hash + task id), see names.ts. */
  taskKey: z.string().min(1).max(2048),
  taskId: name,
  /** SHA-256 of `plan`, hex. */
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The TaskPlan as encodeJson text. */
  plan: z.string().min(2),
  /** Per-task wall-clock limit the worker enforces; null = the worker's default. */
  timeoutMs: z.number().int().positive().nullable(),
  /** Result statuses that are worth another attempt while attempts remain. */
  retryOn: z.array(z.enum(TASK_STATUSES)),
});
export type TaskJobData = z.infer<typeof taskJobSchema>;

const serializedError: z.ZodType<TaskResult['error']> = z.lazy(() =>
  z.looseObject({ name: z.string(), code: z.string().optional(), message: z.string(), context: z.record(z.string(), z.unknown()).optional(), stack: z.string().optional(), cause: serializedError.optional() }),
) as z.ZodType<TaskResult['error']>;

export const taskResultSchema = z.looseObject({
  taskId: name,
  axis: stringMap,
  status: z.enum(TASK_STATUSES),
  error: serializedError.optional(),
  seconds: z.number(),
  images: z.number().int().min(0),
  outputs: z.array(z.string()),
  // Thousands of rows per task are common: checked by hand, at a tenth of the cost of a schema per row.
  measurements: z.array(z.custom<TaskResult['measurements'][number]>(isMeasurementRow, 'expected a measurement row {task, step, fn, image, components, values}')),
  metadata: z.array(z.custom<NonNullable<TaskResult['metadata']>[number]>(isSubdirectoryFiles, 'expected metadata entries {subdir, base, files}')).optional(),
  peakRssBytes: z.number().optional(),
  resumed: z.string().optional(),
  attempts: z.number().int().min(0).optional(),
  steps: z.array(z.looseObject({ name: z.string(), seconds: z.number() })).optional(),
});

function isStringRecord(v: unknown, valueType: 'string' | 'number'): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  for (const key in v) if (typeof (v as Record<string, unknown>)[key] !== valueType) return false;
  return true;
}

function isSubdirectoryFiles(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  const base = e.base as Record<string, unknown> | null;
  if (typeof e.subdir !== 'string' || base === null || typeof base !== 'object' || typeof base.handler !== 'string' || typeof base.sourceFormat !== 'string') return false;
  if (e.files === null || typeof e.files !== 'object') return false;
  return Object.values(e.files as object).every((components) => isStringRecord(components, 'string'));
}

function isMeasurementRow(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r.task === 'string' && typeof r.step === 'string' && typeof r.fn === 'string' && typeof r.image === 'string' && isStringRecord(r.components, 'string') && isStringRecord(r.values, 'number');
}

/** What a worker returns for a job (BullMQ stores it as the job's return value). */
export const jobReturnSchema = z.strictObject({
  v: z.literal(JOB_FORMAT_VERSION),
  planHash: z.string(),
  /** Name of the worker that produced the result. */
  worker: z.string(),
  /** The TaskResult as encodeJson text. */
  result: z.string(),
});
export type JobReturn = z.infer<typeof jobReturnSchema>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The plan as job text plus its hash. */
export function encodePlan(plan: TaskPlan): { readonly text: string; readonly hash: string } {
  const text = encodeJson(plan);
  return { text, hash: sha256(text) };
}

/**
 * Parses a job's data and its plan, checks the plan against its hash, and returns the plan
 * deep-frozen, exactly as the coordinator compiled it.
 * @throws PipelineError E_PLAN_INVALID naming the first bad field
 */
export function decodeTaskJob(data: unknown): { readonly job: TaskJobData; readonly plan: TaskPlan } {
  const job = parseOrThrow(taskJobSchema, data, 'job data');
  const plan = decodePlanText(job.plan, job.planHash, 'job data', job.taskId);
  if (plan.taskId !== job.taskId) throw new PipelineError('E_PLAN_INVALID', `plan: taskId "${plan.taskId}" differs from the job's "${job.taskId}"`, { task: job.taskId });
  return { job, plan };
}

/**
 * A plan's text (from a job or a file) checked against its hash and the plan schema, deep-frozen.
 * @param where what the text came from, for messages
 * @throws PipelineError E_PLAN_INVALID naming the first bad field
 */
export function decodePlanText(text: string, planHash: string, where: string, task?: string): TaskPlan {
  const context = task !== undefined ? { task } : {};
  if (sha256(text) !== planHash) throw new PipelineError('E_PLAN_INVALID', `${where}: the plan does not match its planHash (corrupted or altered)`, context);
  let raw: unknown;
  try {
    raw = decodeJson(text);
  } catch (err) {
    throw new PipelineError('E_PLAN_INVALID', `${where}: ${(err as Error).message}`, context, { cause: err });
  }
  // Validated, but used as decoded: no schema here transforms or defaults anything, and the
  // decoded object keeps the coordinator's key order.
  parseOrThrow(taskPlanSchema, raw, 'plan');
  return deepFreeze(raw as TaskPlan);
}

export function encodeResult(result: TaskResult, planHash: string, worker: string): JobReturn {
  return { v: JOB_FORMAT_VERSION, planHash, worker, result: encodeJson(result) };
}

/**
 * Parses a job's return value (object, or the JSON text BullMQ sometimes hands over).
 * @throws PipelineError E_PLAN_INVALID when it is not a result this version wrote
 */
export function decodeJobReturn(value: unknown): { readonly planHash: string; readonly worker: string; readonly result: TaskResult } {
  let envelope: unknown = value;
  if (typeof value === 'string') {
    try {
      envelope = JSON.parse(value);
    } catch {
      throw new PipelineError('E_PLAN_INVALID', 'job return value is not JSON');
    }
  }
  const ret = parseOrThrow(jobReturnSchema, envelope, 'job return value');
  let raw: unknown;
  try {
    raw = decodeJson(ret.result);
  } catch (err) {
    throw new PipelineError('E_PLAN_INVALID', `job result: ${(err as Error).message}`, {}, { cause: err });
  }
  parseOrThrow(taskResultSchema, raw, 'job result');
  const result = raw as TaskResult;
  return { planHash: ret.planHash, worker: ret.worker, result };
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? `.${issue.path.map(String).join('.')}` : '';
  throw new PipelineError('E_PLAN_INVALID', `${what}${where}: ${issue.message}`, { jsonPath: issue.path.map(String).join('.') });
}

export { JsonCodecError };
