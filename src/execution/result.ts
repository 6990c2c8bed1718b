import type { SerializedError } from '../errors.js';
import type { SubdirectoryFiles } from '../storage/metadata-types.js';

export type TaskStatus = 'ok' | 'error' | 'skipped' | 'cancelled' | 'timeout' | 'killed';

/** One function's measurements for one output image. */
export interface MeasurementRow {
  readonly task: string;
  readonly step: string;
  readonly fn: string;
  /** Output file stem of the image, e.g. `well-A01_site-1_channel-1`. */
  readonly image: string;
  readonly components: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, number>>;
}

export interface TaskResult {
  readonly taskId: string;
  readonly axis: Readonly<Record<string, string>>;
  readonly status: TaskStatus;
  readonly error?: SerializedError;
  readonly seconds: number;
  /** Input images read by the task. */
  readonly images: number;
  /** Files written, relative to the output root. */
  readonly outputs: readonly string[];
  readonly measurements: readonly MeasurementRow[];
  /**
   * What the task's disk steps wrote (or reused), as `plateflow_metadata.json` entries. The
   * coordinator merges them into that file for the whole run (`addMetadataFiles`), so tasks never
   * contend for it; a caller running `runTask` alone merges them itself.
   */
  readonly metadata?: readonly SubdirectoryFiles[];
  readonly peakRssBytes?: number;
  /** Set when an earlier run's checkpoints were reused: 'task' = nothing was recomputed, else the last reused step's name. */
  readonly resumed?: string;
  readonly attempts?: number;
  /** Wall time of each step that finished, in pipeline order (the report's per-step timings). */
  readonly steps?: readonly StepTiming[];
}

export interface StepTiming {
  readonly name: string;
  readonly seconds: number;
  /**
   * With `--memory-debug`: the process RSS sampled after each stack of the step (peak) and at its
   * end. Under `threads` the process is shared by concurrent tasks; `processes` and `subprocess`
   * give each task's own process.
   */
  readonly peakRssBytes?: number;
  readonly rssEndBytes?: number;
}

export type ResultsMap = ReadonlyMap<string, TaskResult>;
