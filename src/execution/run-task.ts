import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FuncCall, StepPlan, TaskPlan } from '../compiler/plan.js';
import { AbortError, PlateflowError, StepFailedError, isPlateflowError, serializeError } from '../errors.js';
import { planeOf, type ImageStack, type PixelArray } from '../image.js';
import { isOmeZarrFormat, OME_ZARR_FORMAT } from '../microscopes/ome-zarr.js';
import { outputFileName, outputStem } from '../storage/output-naming.js';
import type { CheckpointFile, CheckpointPlane, CheckpointStore } from '../storage/checkpoints.js';
import { FunctionRegistry } from '../pipeline/registry.js';
import { isFunctionOutput } from '../processing/types.js';
import { wasmKernels } from '../processing/wasm.js';
import { AtomicWriteBatch } from '../storage/atomic.js';
import type { ReadBuffer } from '../storage/backend.js';
import { FileManager } from '../storage/file-manager.js';
import type { SubdirectoryFiles } from '../storage/metadata-types.js';
import { resolveInside } from '../storage/safe-path.js';
import { BufferPool } from './buffer-pool.js';
import { groupImages, outputComponents } from './group-images.js';
import { loadStack, type FlowImage } from './load-stack.js';
import { prefetch } from './overlap.js';
import { failedPythonCall, runPythonChain } from './python-steps.js';
import { isPythonRef } from '../python/target.js';
import { checkpointStoreFor, lastStepIndex, reusableResult } from './task-checkpoints.js';
import type { MeasurementRow, StepTiming, TaskResult } from './result.js';
import { writeZarrStep, zarrMetadataFiles, type StepPlaneRef } from './zarr-step-output.js';

export interface RunTaskOptions {
  readonly signal?: AbortSignal;
  /** Registry to use; by default one per process with the built-ins and the plan's modules. */
  readonly registry?: FunctionRegistry;
  /** Compute threads the task's functions may use (`FunctionContext.threads`). @default 1 */
  readonly threads?: number;
}

const registries = new Map<string, Promise<FunctionRegistry>>();
/** This worker's recycled pixel arrays (see buffer-pool.ts). */
const buffers = new BufferPool();

/** Workers load user modules once per process (or thread), keyed by the plan's module list. */
function registryFor(modules: readonly string[]): Promise<FunctionRegistry> {
  const key = modules.join('\n');
  let registry = registries.get(key);
  if (!registry) {
    registry = (async () => {
      const r = FunctionRegistry.withBuiltins();
      await r.loadModules(modules);
      return r;
    })();
    registries.set(key, registry);
    registry.catch(() => registries.delete(key));
  }
  return registry;
}

/**
 * Loads what a task needs before it can start: the WASM kernels, the built-in registry and the
 * plan's user modules (`modules`; once per worker, cached). Workers call it before they say a task
 * has started, so that loading code is the worker's start-up, not the task's time under `--timeout`.
 */
export async function prepareWorker(modules: readonly string[] = []): Promise<void> {
  wasmKernels();
  await registryFor(modules);
}

/**
 * Runs one task's plan to the end and reports the outcome; it never throws for a task's own
 * failure, so a bad well cannot take the run down. Every executor calls this same function.
 * It does not touch `plateflow_metadata.json`: the result's `metadata` entries go there through
 * the coordinator (or `addMetadataFiles` when calling this directly).
 */
export async function runTask(plan: TaskPlan, options: RunTaskOptions = {}): Promise<TaskResult> {
  const started = performance.now();
  const files = new FileManager();
  const outputs: string[] = [];
  const measurements: MeasurementRow[] = [];
  const steps: StepTiming[] = [];
  const metadata: SubdirectoryFiles[] = [];
  let resumed: string | undefined;
  let durability: Promise<void> = Promise.resolve();
  let held: StepRan | undefined;
  const base = { taskId: plan.taskId, axis: plan.axis, images: plan.inputs.length, steps };
  if (plan.resources.bufferPoolBytes !== undefined) buffers.setBudget(plan.resources.bufferPoolBytes);
  try {
    options.signal?.throwIfAborted();
    const registry = options.registry ?? (await registryFor(plan.modules));
    const store = checkpointStoreFor(plan);
    const lastIndex = lastStepIndex(plan);
    const runsToEnd = lastIndex === plan.steps.length - 1;
    const finalHash = plan.steps[lastIndex]!.hash;
    const done = await reusableResult(plan, store);
    if (done) return { ...done, seconds: (performance.now() - started) / 1000 };
    let current: FlowImage[] = plan.inputs.map((record) => ({
      components: record.components,
      // OME-Zarr records name an array and a plane of it; the zarr backend reads just that plane.
      backend: isOmeZarrFormat(plan.plate.format) ? 'zarr' : 'disk',
      path: resolveInside(plan.plate.root, record.path),
      ...(record.page !== undefined ? { page: record.page } : {}),
      ...(record.sample !== undefined ? { sample: record.sample } : {}),
    }));
    let first = 0;
    const readBuffer: ReadBuffer = { bytes: new Uint8Array(0) };
    const resumePoint = plan.checkpoints.reuse ? await latestCheckpoint(plan, store, Math.min(lastIndex, (plan.checkpoints.fromStep ?? Infinity) - 1)) : undefined;
    if (resumePoint) {
      first = resumePoint.step.index + 1;
      resumed = resumePoint.step.name;
      // An OME-Zarr step lists the planes to reload (array + page); a TIFF step its files.
      const { files: saved, planes } = resumePoint.checkpoint;
      current = planes
        ? planes.map((p) => ({ components: p.components, backend: 'zarr', path: resolveInside(plan.outputRoot, p.array), page: p.page, ...(p.dtype ? { dtype: p.dtype } : {}) }))
        : saved.map((f) => ({ components: f.components, backend: 'disk', path: resolveInside(plan.outputRoot, f.path) }));
      outputs.push(...resumePoint.checkpoint.outputs);
      measurements.push(...resumePoint.checkpoint.measurements);
      metadata.push(...resumePoint.checkpoint.metadata);
    }
    for (let index = first; index <= lastIndex; index++) {
      const step = plan.steps[index]!;
      const stepStarted = performance.now();
      const memory = plan.memoryDebug ? { peak: 0 } : undefined;
      // The last step's images in memory only are dropped with the task: Python need not send them back.
      const unread = index === lastIndex && step.outputDir === null && step.outputFormat === null;
      const ran = await runStep(plan, step, current, { files, registry, outputs, measurements, signal: options.signal, memory, readBuffer, threads: options.threads ?? 1, unread });
      current = ran.next;
      // The previous step's images were read by this one and dropped from memory: if only built-ins
      // made and read them, their arrays go back to the pool (unless this step passed one on).
      if (held?.builtinOnly && ran.builtinOnly) buffers.releaseExcept(held.arrays, ran.arrays);
      held = ran;
      const progress = { outputs: [...outputs], measurements: [...measurements] };
      // Each step's marker follows its files once they are durable, in step order, while later
      // steps compute. It carries their metadata entries, so a resumed task hands them to the
      // coordinator again even if a killed run never merged them.
      durability = durability.then(async () => {
        const written = await ran.durable;
        if (written.written.length === 0) return;
        metadata.push(metadataEntries(plan, step, written));
        await store.writeStep(plan.taskId, step, { files: written.written, ...(written.planes ? { planes: written.planes } : {}), ...progress, metadata: [...metadata] });
      });
      durability.catch(() => undefined);
      const rss = memory ? { peakRssBytes: Math.max(memory.peak, process.memoryUsage.rss()), rssEndBytes: process.memoryUsage.rss() } : {};
      steps.push({ name: step.name, seconds: (performance.now() - stepStarted) / 1000, ...rss });
    }
    await durability;
    // The last step's images are only in memory now, and nothing reads them after the task.
    if (held?.builtinOnly) buffers.releaseExcept(held.arrays, []);
    if (runsToEnd) await store.writeTask(plan.taskId, { hash: finalHash, outputs, measurements, metadata, images: plan.inputs.length });
    return { ...base, status: 'ok', ...(resumed ? { resumed } : {}), seconds: (performance.now() - started) / 1000, outputs, measurements, metadata };
  } catch (err) {
    // Steps that finished before the failure still get their markers (and their metadata entries).
    await durability.catch(() => undefined);
    const aborted = options.signal?.aborted === true;
    const error = aborted ? new AbortError(options.signal!.reason) : err;
    // A process the task ran its code in died under it (a Python step's interpreter): `killed`, as
    // when a worker process dies, not an exception of the task's own.
    const status = aborted ? 'cancelled' : causedByKill(err) ? 'killed' : 'error';
    return { ...base, status, error: serializeError(error), ...(resumed ? { resumed } : {}), seconds: (performance.now() - started) / 1000, outputs, measurements, metadata };
  } finally {
    await files.close();
    buffers.endTask();
  }
}

/** A disk step's files as `plateflow_metadata.json` entries, so the output folder reads as a plate. */
function metadataEntries(plan: TaskPlan, step: StepPlan, ran: StepWritten): SubdirectoryFiles {
  const zarr = ran.planes !== undefined;
  const files: Record<string, Readonly<Record<string, string>>> = zarr ? zarrMetadataFiles(step, ran.planes!) : {};
  if (!zarr) for (const f of ran.written) files[path.posix.basename(f.path)] = f.components;
  const base = {
    handler: zarr ? OME_ZARR_FORMAT : 'plateflow',
    sourceFormat: plan.plate.format,
    backend: zarr ? 'zarr' : 'disk',
    main: step.main,
    grid: plan.plate.grid,
    ...(plan.plate.acquisition ? { acquisition: plan.plate.acquisition } : {}),
  } as const;
  return { subdir: path.basename(step.outputDir!), base, files };
}

interface StepRan {
  readonly next: FlowImage[];
  /** Settles when the step's files are durable under their names (already marked handled). */
  readonly durable: Promise<StepWritten>;
  /** The arrays behind the step's images in memory (one per group). */
  readonly arrays: PixelArray[];
  /** Every group ran only built-in functions (or none), so no user code holds these arrays or its inputs. */
  readonly builtinOnly: boolean;
}

interface StepWritten {
  /** Files the checkpoint verifies; for an OME-Zarr step, every file of the task's positions. */
  readonly written: CheckpointFile[];
  /** OME-Zarr steps only: the planes written, which a resumed task reloads. */
  readonly planes?: CheckpointPlane[];
}

interface StepContext {
  readonly files: FileManager;
  readonly registry: FunctionRegistry;
  readonly outputs: string[];
  readonly measurements: MeasurementRow[];
  readonly signal: AbortSignal | undefined;
  /** Present with --memory-debug: the highest RSS seen after a stack of this step. */
  readonly memory: { peak: number } | undefined;
  /** Reused by every disk read of the task (one load is in flight at a time). */
  readonly readBuffer: ReadBuffer;
  readonly threads: number;
  /** Nothing reads this step's images: a chain ending in Python may leave its output there. */
  readonly unread: boolean;
}

/** The latest disk step at or before `maxIndex` whose checkpoint is intact and current. */
async function latestCheckpoint(plan: TaskPlan, store: CheckpointStore, maxIndex: number) {
  for (let index = maxIndex; index >= 0; index--) {
    const step = plan.steps[index]!;
    if (step.outputDir === null) continue;
    const checkpoint = await store.readStep(plan.taskId, step);
    if (checkpoint) return { step, checkpoint };
  }
  return undefined;
}

async function runStep(plan: TaskPlan, step: StepPlan, images: readonly FlowImage[], ctx: StepContext): Promise<StepRan> {
  const order = plan.plate.componentOrder;
  const next: FlowImage[] = [];
  const checkpointFiles: CheckpointFile[] = [];
  const staged: { file: string; relative: string; components: Readonly<Record<string, string>> }[] = [];
  const arrays: PixelArray[] = [];
  let builtinOnly = true;
  // OME-Zarr steps keep their planes in memory (as every step does) and write whole positions at the end.
  const zarrPlanes: StepPlaneRef[] | undefined = step.outputFormat !== null && step.outputFormat !== 'tiff' ? [] : undefined;
  let planes: CheckpointPlane[] | undefined;
  const seen = new Set<string>();
  // One fsync per file on the thread pool as it is written; renames and the directory sync come with `durable`.
  const writes = new AtomicWriteBatch();
  const groups = groupImages(images, step.variableComponents, order);
  let upcoming = groups.length > 0 ? prefetch(() => loadStack(groups[0]!.members, ctx, buffers.allocate)) : undefined;
  try {
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      ctx.signal?.throwIfAborted();
      const input = await upcoming!;
      upcoming = g + 1 < groups.length ? prefetch(() => loadStack(groups[g + 1]!.members, ctx, buffers.allocate)) : undefined;
      const groupValue = step.groupBy === null ? undefined : group.common[step.groupBy];
      const chain = (groupValue !== undefined ? step.pattern.byGroup[groupValue] : undefined) ?? step.pattern.default;
      const inputComponents = group.members.map((m) => m.components);
      const result = chain === null ? { stack: input, components: inputComponents } : await applyChain(plan, step, chain, input, inputComponents, group.common, ctx);
      if (result.stack) arrays.push(result.stack.data);
      if (chain !== null && !recyclingChain(chain, ctx.registry)) builtinOnly = false;
      for (let i = 0; i < result.components.length; i++) {
        const components = result.components[i]!;
        const fileName = outputFileName(components, plan.plate.nameComponents);
        if (seen.has(fileName)) {
          throw new StepFailedError(plan.taskId, step.name, undefined, new PlateflowError('E_PLAN_INVALID', `two outputs of this step would both be named ${fileName}; check variableComponents`));
        }
        seen.add(fileName);
        if (!result.stack) continue;
        const plane: ImageStack = { dtype: result.stack.dtype, shape: [1, result.stack.shape[1], result.stack.shape[2]], data: planeOf(result.stack, i) };
        const memoryKey = `${step.id}/${fileName}`;
        await ctx.files.save('memory', memoryKey, plane);
        if (zarrPlanes) zarrPlanes.push({ components, memoryKey });
        else if (step.outputDir !== null) {
          const file = path.join(step.outputDir, fileName);
          const relative = path.relative(plan.outputRoot, file).split(path.sep).join('/');
          ctx.outputs.push(relative);
          await ctx.files.save('disk', file, plane, { batch: writes });
          staged.push({ file, relative, components });
        }
        next.push({ components, backend: 'memory', path: memoryKey });
      }
      if (ctx.memory) ctx.memory.peak = Math.max(ctx.memory.peak, process.memoryUsage.rss());
    }
    if (zarrPlanes) {
      const zarr = await writeZarrStep(plan, step, zarrPlanes, ctx.files, ctx.signal);
      ctx.outputs.push(...zarr.outputs);
      checkpointFiles.push(...zarr.files);
      planes = zarr.planes;
    }
  } catch (err) {
    // No staged file may appear later under its name.
    writes.abort();
    throw err;
  } finally {
    await upcoming?.catch(() => undefined);
  }
  // The previous step's in-memory images are no longer needed: each step reads only its predecessor.
  for (const image of images) if (image.backend === 'memory') await ctx.files.backend('memory').delete(image.path);
  // The next step reads this one's images from memory, never from disk, so it need not wait for
  // the fsyncs: they finish on the thread pool while it computes.
  const durable = writes.commit().then((sizes) => {
    for (const s of staged) checkpointFiles.push({ path: s.relative, bytes: sizes.get(path.resolve(s.file))!, components: s.components });
    checkpointFiles.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { written: checkpointFiles, ...(planes ? { planes } : {}) };
  });
  durable.catch(() => undefined);
  return { next, durable, arrays, builtinOnly };
}

function recyclingChain(chain: readonly FuncCall[], registry: FunctionRegistry): boolean {
  return chain.every((call) => isPythonRef(call.fn) || registry.get(call.fn)?.source === 'builtin');
}

function causedByKill(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (isPlateflowError(e, 'E_TASK_KILLED')) return true;
  return false;
}

async function applyChain(
  plan: TaskPlan,
  step: StepPlan,
  chain: readonly FuncCall[],
  input: ImageStack,
  inputComponents: readonly Readonly<Record<string, string>>[],
  common: Readonly<Record<string, string>>,
  ctx: StepContext,
): Promise<{ stack: ImageStack | undefined; components: readonly Readonly<Record<string, string>>[] }> {
  let stack = input;
  let components = inputComponents;
  // Built-in functions never keep their input, nor does Python (it gets a copy in shared memory):
  // between two of them, an intermediate nothing else can reach goes back to the worker's pool,
  // and so does the group's stack once the chain is done.
  const recycle = recyclingChain(chain, ctx.registry);
  /** Records one call's output: the components of its planes and its measurements. */
  const took = (fn: string, planes: number, measurements: readonly Readonly<Record<string, number>>[] | undefined): void => {
    components = outputComponents(components, common, step.variableComponents, planes);
    measurements?.forEach((values, i) => {
      const c = components[i];
      if (c) ctx.measurements.push({ task: plan.taskId, step: step.name, fn, image: outputStem(c, plan.plate.nameComponents), components: c, values });
    });
  };
  const done = (out: ImageStack | undefined) => {
    if (recycle && out?.data.buffer !== input.data.buffer) buffers.release(input.data);
    return { stack: out, components };
  };
  for (let i = 0; i < chain.length; ) {
    ctx.signal?.throwIfAborted();
    const call = chain[i]!;
    let next: ImageStack | undefined;
    if (isPythonRef(call.fn)) {
      // Consecutive Python functions cross into Python once: their intermediates stay there.
      let end = i + 1;
      while (end < chain.length && isPythonRef(chain[end]!.fn)) end++;
      const calls = chain.slice(i, end);
      let produced;
      try {
        produced = await runPythonChain(calls, plan, stack, { signal: ctx.signal, allocate: buffers.allocate, discardOutput: ctx.unread && end === chain.length });
      } catch (err) {
        throw new StepFailedError(plan.taskId, step.name, failedPythonCall(calls, err).fn, err);
      }
      calls.forEach((c, k) => took(c.fn, produced.steps[k]!.planes, produced.steps[k]!.measurements));
      next = produced.stack;
      i = end;
    } else {
      const run = ctx.registry.get(call.fn)?.run;
      if (!run) throw new StepFailedError(plan.taskId, step.name, call.fn, new Error('function is not registered in this worker'));
      let produced;
      try {
        produced = await run(stack, call.kwargs as never, { components, signal: ctx.signal, gpuId: plan.resources.gpuId, allocate: buffers.allocate, threads: ctx.threads });
      } catch (err) {
        throw new StepFailedError(plan.taskId, step.name, call.fn, err);
      }
      const out = isFunctionOutput(produced) ? produced : { stack: produced };
      took(call.fn, out.stack.shape[0], out.measurements);
      next = out.stack;
      i++;
    }
    if (recycle && stack !== input && next?.data.buffer !== stack.data.buffer) buffers.release(stack.data);
    if (next === undefined) return done(undefined);
    stack = next;
  }
  return done(stack);
}
