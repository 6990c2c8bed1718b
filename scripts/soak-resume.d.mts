export interface SoakOptions {
  readonly kills?: number;
  readonly seed?: number;
  readonly executorArgs?: readonly string[];
  /** `--output-format` of every run (tiff when absent), e.g. 'ome-zarr'. */
  readonly outputFormat?: string;
  readonly wells?: number;
  readonly log?: (line: string) => void;
}

export interface SoakResult {
  readonly kills: number;
  readonly cycles: number;
  readonly mismatched: readonly string[];
  readonly files: number;
}

export function soakResume(options?: SoakOptions): Promise<SoakResult>;
