import { createHash } from 'node:crypto';
import path from 'node:path';
import { createComponentConfig, type ComponentConfig, type ComponentConfigInput } from '../components/config.js';
import { applyFilter, type KeyFilter } from '../components/filters.js';
import { naturalCompare } from '../components/natural-sort.js';
import { taskKey } from '../components/task-key.js';
import { normalizeWellId } from '../components/wells.js';
import { ConfigError, PipelineError } from '../errors.js';
import { recordsOf } from '../microscopes/record-table.js';
import type { PlateIndex, PlateRecords } from '../microscopes/types.js';
import { FunctionRegistry, resolveModuleSpecifier } from '../pipeline/registry.js';
import type { PipelineDefinition } from '../pipeline/types.js';
import { parseOutputFormat, type OutputFormat, type OutputFormatInput } from './output-format.js';
import { PLAN_FORMAT_VERSION, deepFreeze, type StepPlan, type TaskPlan } from './plan.js';
import { checkPythonSteps } from './python-steps.js';
import { resolveSteps, type ResolvedStep } from './resolve-steps.js';

export interface CompileOptions {
  /** Overrides the pipeline's own axis / variable / groupBy defaults. */
  readonly config?: Partial<ComponentConfigInput>;
  /** Output root; default `<plate>_plateflow` beside the plate. */
  readonly out?: string;
  /** Keep only these axis values: a filter for a single-component axis, or one per axis component. */
  readonly axisFilter?: KeyFilter | Readonly<Record<string, KeyFilter>>;
  /** Registry with built-ins; user modules named by the pipeline are loaded into it. */
  readonly registry?: FunctionRegistry;
  /** Directory that relative module paths in the pipeline resolve against (the pipeline file's). */
  readonly baseDir?: string;
  /** GPU device ids available to this run; empty or absent = no GPU. */
  readonly gpus?: readonly number[];
  /** Checkpoint reuse: `force` recomputes everything; steps are 1-based numbers or step names. */
  readonly checkpoints?: { readonly force?: boolean; readonly fromStep?: number | string; readonly toStep?: number | string; readonly verifyInputs?: boolean };
  /** Record RSS per task and step in the results. @default false */
  readonly memoryDebug?: boolean;
  /**
   * How disk steps store their planes: TIFF files, or one OME-Zarr plate per step
   * (`<out>/<step id>.zarr`); `ome-zarr` is `ome-zarr@0.5`. OME-Zarr needs an axis of well and/or
   * site, so that each task writes whole positions. @default 'tiff'
   */
  readonly outputFormat?: OutputFormatInput;
  /**
   * The Python interpreter for `py:` steps (a venv's or conda's python, or a name on PATH).
   * @default the PLATEFLOW_PYTHON environment variable, else `python3`
   */
  readonly python?: string;
}

export interface CompiledRun {
  readonly config: ComponentConfig;
  readonly outputRoot: string;
  readonly steps: readonly StepPlan[];
  /** Task id → frozen plan, in natural order of the axis values. */
  readonly tasks: ReadonlyMap<string, TaskPlan>;
  readonly warnings: readonly string[];
}

const STANDARD_ORDER = ['well', 'site', 'channel', 'z', 'timepoint'];

/**
 * Compiles a pipeline against a discovered plate, single-threaded, into one deep-frozen plan per
 * value of the parallel axis. Phases: steps (names, kwargs, components) → group validation against
 * the plate → backends and paths → per-task plans with resources.
 *
 * @throws PipelineError E_FUNCTION_UNKNOWN | E_KWARGS_INVALID | E_GROUP_UNKNOWN | E_PIPELINE_INVALID | E_MODULE_LOAD | E_PYTHON_SETUP
 * @throws ConfigError E_CONFIG_INVALID for a contradictory component configuration
 */
export async function compile(pipeline: PipelineDefinition, plate: PlateIndex, options: CompileOptions = {}): Promise<CompiledRun> {
  const warnings: string[] = [];
  const known = [...new Set([...STANDARD_ORDER, ...Object.keys(plate.components)])];
  const config = createComponentConfig({
    axis: options.config?.axis ?? pipeline.axis ?? 'well',
    variable: options.config?.variable ?? pipeline.variableComponents ?? ['site'],
    groupBy: options.config?.groupBy !== undefined ? options.config.groupBy : pipeline.groupBy !== undefined ? pipeline.groupBy : 'channel',
    components: options.config?.components ?? known,
  });
  for (const component of config.axis) {
    if (!(component in plate.components)) {
      throw new PipelineError('E_PIPELINE_INVALID', `axis component "${component}" does not occur in this ${plate.format} plate; it has ${Object.keys(plate.components).join(', ')}`);
    }
  }

  const registry = options.registry ?? FunctionRegistry.withBuiltins();
  const baseDir = options.baseDir ?? process.cwd();
  const modules = (pipeline.modules ?? []).map((m) => resolveModuleSpecifier(m, baseDir));
  await registry.loadModules(modules);

  const gpus = options.gpus ?? [];
  const resolved = resolveSteps(pipeline, registry, {
    axis: config.axis,
    variable: config.variable,
    groupBy: config.groupBy,
    known: config.components,
    gpuAvailable: gpus.length > 0,
    baseDir,
  });
  const python = await checkPythonSteps(resolved, options.python);
  const bound = bindGroups(resolved, plate);

  const outputRoot = path.resolve(options.out ?? `${plate.root.replace(/[\\/]+$/, '')}_plateflow`);
  const outputFormat = parseOutputFormat(options.outputFormat ?? 'tiff', 'outputFormat (--output-format)');
  const steps = planSteps(bound, outputRoot, outputFormat);
  if (outputFormat !== 'tiff' && steps.some((s) => s.backend === 'disk')) checkZarrOutput(outputFormat, config.axis, plate);
  if (!steps.some((s) => s.backend === 'disk')) warnings.push('no step writes to disk: only measurements will be kept');

  const componentOrder = [...STANDARD_ORDER.filter((c) => c in plate.components), ...Object.keys(plate.components).filter((c) => !STANDARD_ORDER.includes(c)).sort()];
  const nameComponents = componentOrder.filter((c) => ['well', 'site', 'channel'].includes(c) || (plate.components[c]?.length ?? 0) > 1);
  const records = recordsOf(plate);
  const groups = groupByAxis(records, config.axis, options.axisFilter, plate);
  const keyOf = inputsKeyOf(plate.root, records);
  if (groups.size === 0) warnings.push(`no ${config.axis.join('+')} values left after filtering: nothing to run`);

  const checkpoints = {
    reuse: options.checkpoints?.force !== true,
    fromStep: stepIndex(options.checkpoints?.fromStep, steps, '--from-step'),
    toStep: stepIndex(options.checkpoints?.toStep, steps, '--to-step'),
    verifyInputs: options.checkpoints?.verifyInputs ?? false,
  };
  if (checkpoints.fromStep !== null && checkpoints.toStep !== null && checkpoints.fromStep > checkpoints.toStep) {
    throw new PipelineError('E_PIPELINE_INVALID', `--from-step (step ${checkpoints.fromStep + 1}) comes after --to-step (step ${checkpoints.toStep + 1})`);
  }
  const needsGpu = steps.some((s) => s.gpu);
  const tasks = new Map<string, TaskPlan>();
  let gpuCursor = 0;
  for (const [taskId, { axis, rows }] of groups) {
    const inputs = rows.map((row) => deepFreeze(records.record(row)));
    // Frozen here, with records that are frozen already, so `deepFreeze` of the plan need not walk a list of thousands.
    Object.freeze(inputs);
    const plan = {
      formatVersion: PLAN_FORMAT_VERSION,
      taskId,
      axis,
      plate: { root: plate.root, format: plate.format, componentOrder, nameComponents, grid: plate.grid ?? null, ...(plate.acquisition ? { acquisition: plate.acquisition } : {}) },
      inputs,
      inputsKey: keyOf(rows),
      steps,
      outputRoot,
      modules,
      resources: { weight: inputs.length, gpuId: needsGpu ? gpus[gpuCursor++ % gpus.length]! : null },
      checkpoints,
      memoryDebug: options.memoryDebug ?? false,
      python,
    } satisfies TaskPlan;
    tasks.set(taskId, deepFreeze(plan));
  }
  return deepFreeze({ config, outputRoot, steps, tasks, warnings }) as CompiledRun;
}

/**
 * Checks every key of a per-group map against the group-by values the plate really has. A key
 * `#n` means "the n-th value present" (natural order), because microscopes number channels
 * differently (ArrayScan d0.., ImageXpress w1..), so one pipeline can say "the first channel".
 */
function bindGroups(steps: readonly ResolvedStep[], plate: PlateIndex): ResolvedStep[] {
  return steps.map((step) => {
    if (step.groupKeys.length === 0 || step.groupBy === null) return step;
    const present = plate.components[step.groupBy] ?? [];
    const byGroup: Record<string, StepPlan['pattern']['byGroup'][string]> = {};
    for (const key of step.groupKeys) {
      const jsonPath = `steps[${step.index}].func.${key}`;
      const ordinal = /^#(\d+)$/.exec(key);
      const value = ordinal ? present[Number(ordinal[1]) - 1] : present.includes(key) ? key : undefined;
      if (value === undefined) {
        const listed = present.map((v) => `"${v}"`).join(', ') || '(none)';
        const what = ordinal ? `there is no ${step.groupBy} number ${ordinal[1]}` : `group "${key}" does not exist`;
        throw new PipelineError('E_GROUP_UNKNOWN', `${jsonPath}: ${what}; ${step.groupBy} values in this plate are ${listed}`, { jsonPath, step: step.name });
      }
      if (value in byGroup) throw new PipelineError('E_PIPELINE_INVALID', `${jsonPath}: ${step.groupBy} "${value}" is given twice in this map`, { jsonPath });
      byGroup[value] = step.pattern.byGroup[key]!;
    }
    return { ...step, pattern: { default: step.pattern.default, byGroup }, groupKeys: Object.keys(byGroup) };
  });
}

/**
 * The `inputsKey` of a task from its rows: sha256 over the root and, per input, its path, page,
 * sample and components as sorted-key JSON, in input order. The text is the one each record's
 * `stableStringify` gave before records became columns — keys of existing plates, and so their
 * checkpoints, stay the same — but it is assembled from per-value pieces made once per plate and
 * hashed in one call per task.
 */
function inputsKeyOf(root: string, records: PlateRecords): (rows: readonly number[]) => string {
  const pieces = Object.keys(records.components)
    .sort()
    .map((name) => ({ read: records.valueIndexOf(name), texts: records.components[name]!.map((v) => `${JSON.stringify(name)}:${JSON.stringify(v)}`) }));
  return (rows) => {
    const text: string[] = [root];
    for (const row of rows) {
      const page = records.page(row);
      const sample = records.sample(row);
      // The sample suffix only appears for colour files, so keys of existing plates (and their resumes) stay the same.
      let line = `\n${records.path(row)}#${page ?? ''}${sample !== undefined ? `@${sample}` : ''}{`;
      let first = true;
      for (const p of pieces) {
        const v = p.read(row);
        if (v < 0) continue;
        line += first ? p.texts[v]! : `,${p.texts[v]!}`;
        first = false;
      }
      text.push(`${line}}`);
    }
    return createHash('sha256').update(text.join('')).digest('hex').slice(0, 16);
  };
}

/** A 1-based step number or a step name → 0-based index. */
function stepIndex(ref: number | string | undefined, steps: readonly StepPlan[], flag: string): number | null {
  if (ref === undefined) return null;
  const byNumber = typeof ref === 'number' || /^\d+$/.test(ref) ? Number(ref) - 1 : -1;
  const index = byNumber >= 0 ? byNumber : steps.findIndex((s) => s.name === ref || s.id === ref);
  if (index < 0 || index >= steps.length) {
    throw new PipelineError('E_PIPELINE_INVALID', `${flag} ${JSON.stringify(ref)} names no step; steps are ${steps.map((s, i) => `${i + 1} "${s.name}"`).join(', ')}`);
  }
  return index;
}

function planSteps(resolved: readonly ResolvedStep[], outputRoot: string, format: OutputFormat): StepPlan[] {
  const last = resolved.length - 1;
  const backends = resolved.map((s, i) => s.explicitBackend ?? (i === last ? 'disk' : 'memory'));
  const mainIndex = backends.lastIndexOf('disk');
  return resolved.map((s, i) => ({
    index: s.index,
    name: s.name,
    id: s.id,
    variableComponents: s.variableComponents,
    groupBy: s.groupBy,
    pattern: s.pattern,
    backend: backends[i]!,
    outputDir: backends[i] === 'disk' ? path.join(outputRoot, format === 'tiff' ? s.id : `${s.id}.zarr`) : null,
    outputFormat: backends[i] === 'disk' ? format : null,
    main: i === mainIndex,
    gpu: s.gpu,
    // A checkpoint of a TIFF run must not pass for a Zarr run into the same folder (and back), so
    // the format joins the chained hash; TIFF hashes stay as they were.
    hash: format === 'tiff' ? s.hash : createHash('sha256').update(`${s.hash}\u0000${format}`).digest('hex').slice(0, s.hash.length),
  }));
}

/** Components a task may be split along when it writes OME-Zarr: each task then owns whole (well, site) positions. */
const POSITION_COMPONENTS = ['well', 'site'];

/**
 * An OME-Zarr position (one TCZYX array per well and site) must be written by one task, so the
 * axis may only hold well and site; and positions live in row/column groups, so wells must read
 * as well ids.
 */
function checkZarrOutput(format: OutputFormat, axis: readonly string[], plate: PlateIndex): void {
  const foreign = axis.filter((c) => !POSITION_COMPONENTS.includes(c));
  if (foreign.length > 0) {
    throw new ConfigError(
      `--output-format ${format} writes one OME-Zarr position per (well, site), and one task must write a whole position, so the parallel axis may only hold well and site; ` +
        `the axis is ${axis.join('+')} (${foreign.join(', ')} would split a position between tasks). Use --axis well (or well,site), or --output-format tiff`,
      { axis: axis.join(','), outputFormat: format },
    );
  }
  const seen = new Map<string, string>();
  for (const well of plate.components['well'] ?? []) {
    const id = normalizeWellId(well);
    if (id === undefined) {
      throw new ConfigError(`--output-format ${format} needs well ids such as A01 or B3 (positions live in row/column groups), but this ${plate.format} plate has well "${well}"; use --output-format tiff`, { well });
    }
    const other = seen.get(id);
    if (other !== undefined) throw new ConfigError(`--output-format ${format}: wells "${other}" and "${well}" would both be the OME-Zarr well ${id}; use --output-format tiff`, { well });
    seen.set(id, well);
  }
}

interface AxisGroup {
  readonly axis: Record<string, string>;
  /** Rows of the plate's records, in plate order. */
  readonly rows: number[];
}

/**
 * Rows grouped by their axis values, groups in natural order of those values. Rows are grouped
 * by the values' positions (one number per row), not by building the task id of each row.
 */
function groupByAxis(records: PlateRecords, axis: readonly string[], filter: CompileOptions['axisFilter'], plate: PlateIndex): Map<string, AxisGroup> {
  const allowed = new Map<string, Set<string>>();
  if (filter !== undefined) {
    const perComponent: Readonly<Record<string, KeyFilter>> =
      axis.length === 1 && (typeof filter === 'string' || typeof filter === 'function' || Array.isArray(filter))
        ? { [axis[0]!]: filter as KeyFilter }
        : (filter as Readonly<Record<string, KeyFilter>>);
    for (const [component, f] of Object.entries(perComponent)) {
      allowed.set(component, new Set(applyFilter(component, plate.components[component] ?? [], f)));
    }
  }
  const parts = axis.map((c) => {
    const values = records.components[c] ?? [];
    const set = allowed.get(c);
    return { name: c, values, read: records.valueIndexOf(c), keep: values.map((v) => set === undefined || set.has(v)), filtered: set !== undefined };
  });
  // One number per value tuple while it is exact; a text key past that (never for real plates).
  const exact = parts.reduce((n, p) => n * (p.values.length + 1), 1) <= Number.MAX_SAFE_INTEGER;
  const groups = new Map<number | string, AxisGroup>();
  for (let row = 0; row < records.length; row++) {
    let id: number | string = exact ? 0 : '';
    let skip = false;
    let missing = false;
    for (const p of parts) {
      const v = p.read(row);
      // A filter drops a row without its component; otherwise such a row cannot have a task id.
      if (v < 0) {
        if (p.filtered) skip = true;
        else missing = true;
      } else if (!p.keep[v]) {
        skip = true;
      }
      id = exact ? (id as number) * (p.values.length + 1) + v + 1 : `${id as string},${v}`;
    }
    if (skip) continue;
    if (missing) taskKey(axis, records.record(row).components); // throws, naming the component
    let group = groups.get(id);
    if (!group) {
      const values: Record<string, string> = {};
      for (const p of parts) values[p.name] = p.values[p.read(row)]!;
      groups.set(id, (group = { axis: values, rows: [] }));
    }
    group.rows.push(row);
  }
  const ordered = [...groups.values()].sort((a, b) => {
    for (const c of axis) {
      const d = naturalCompare(a.axis[c]!, b.axis[c]!);
      if (d !== 0) return d;
    }
    return 0;
  });
  return new Map(ordered.map((g) => [taskKey(axis, g.axis), g]));
}
