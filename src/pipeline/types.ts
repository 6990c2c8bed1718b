/**
 * How pipelines are written, in code or in a JSON/YAML file. These are the *input* shapes; the
 * compiler turns them into frozen `StepPlan`s with every function resolved and every kwarg checked.
 */
export type Kwargs = Readonly<Record<string, unknown>>;

/** One function reference: `"gaussian_blur"`, `["gaussian_blur", {sigma: 2}]` or `{fn, kwargs}`. */
export type FuncRef = string | readonly [string] | readonly [string, Kwargs] | { readonly fn: string; readonly kwargs?: Kwargs };

/** A single function or a chain applied in order. */
export type FuncChain = FuncRef | readonly FuncRef[];

/** A chain, or a map from group-by value (e.g. channel "1") to a chain. */
export type FuncPattern = FuncChain | { readonly [groupValue: string]: FuncChain };

export type BackendKind = 'memory' | 'disk';

export interface StepDefinition {
  /** Shown in logs and used (sanitized) as the output sub-directory name. */
  readonly name?: string;
  readonly func: FuncPattern;
  /** Components that vary inside one stack given to the function (default: the run's, i.e. ['site']). */
  readonly variableComponents?: readonly string[];
  /** Component whose value picks the chain from a map pattern (default: the run's, i.e. 'channel'). */
  readonly groupBy?: string | null;
  /** Where the step's output goes; default: memory, except the last step which goes to disk. */
  readonly backend?: BackendKind;
}

export interface PipelineDefinition {
  readonly name?: string;
  /** User function modules: a file path (relative to the pipeline file) or package specifier, optionally `#export`. */
  readonly modules?: readonly string[];
  /** Default parallel axis for runs of this pipeline (the CLI's --axis overrides). */
  readonly axis?: string | readonly string[];
  readonly variableComponents?: readonly string[];
  readonly groupBy?: string | null;
  readonly steps: readonly StepDefinition[];
}

/** A step written in code; the class only names the shape so code pipelines read like the docs. */
export class FunctionStep implements StepDefinition {
  readonly name?: string;
  readonly func: FuncPattern;
  readonly variableComponents?: readonly string[];
  readonly groupBy?: string | null;
  readonly backend?: BackendKind;

  constructor(definition: StepDefinition) {
    this.name = definition.name;
    this.func = definition.func;
    this.variableComponents = definition.variableComponents;
    this.groupBy = definition.groupBy;
    this.backend = definition.backend;
  }
}

export function definePipeline(definition: PipelineDefinition): PipelineDefinition {
  return definition;
}
