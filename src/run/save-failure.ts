import { serializeError, type SerializedError } from '../errors.js';

/**
 * The tasks ran, but what they did could not all be put on disk: `results.json`,
 * `measurements.csv`, `report.html`, or the merge of `plateflow_metadata.json` (a disk that filled
 * up or turned read-only during the run). The run still ends with its summary, says what is
 * missing, and exits 1: the outputs of the tasks that finished are in place.
 */
export interface SaveFailure {
  readonly outputRoot: string;
  /** One line per thing that could not be saved, naming the file and the cause. */
  readonly lines: readonly string[];
  readonly errors: readonly SerializedError[];
}

export function describeSaveFailure(outputRoot: string, metadataError: unknown, resultsError: unknown): SaveFailure | undefined {
  const lines: string[] = [];
  const errors: SerializedError[] = [];
  if (metadataError !== undefined) {
    lines.push(`plateflow_metadata.json was not updated with this run's outputs (the next run merges them from its checkpoints): ${messageOf(metadataError)}`);
    errors.push(serializeError(metadataError));
  }
  if (resultsError !== undefined) {
    lines.push(`results.json, measurements.csv and report.html could not be written: ${messageOf(resultsError)}`);
    errors.push(serializeError(resultsError));
  }
  return lines.length > 0 ? { outputRoot, lines, errors } : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
