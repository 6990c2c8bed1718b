/**
 * `plateflow_metadata.json` is written by the coordinator, from the entries each task result
 * carries (`TaskResult.metadata`), and not by the tasks themselves. Per-task updates made every
 * task re-read, re-validate and re-write the whole file under one lock: O(files) per task, so
 * O(files²) per run, with every worker queueing on the lock (a 384-well plate has ~14,000 files).
 * Here pending entries are merged in one read-modify-write every `intervalMs` while the run goes
 * on, so the output folder keeps reading as a plate, and once more at the end.
 *
 * A run killed between a task's end and the next merge loses nothing: the task's checkpoint
 * markers carry the same entries, and the resumed run merges them again.
 */
import type { SubdirectoryFiles } from '../storage/metadata-types.js';
import { addMetadataFiles } from '../storage/metadata.js';
import type { TaskResult } from './result.js';

export class MetadataWriter {
  readonly #outputRoot: string;
  readonly #timer: NodeJS.Timeout;
  readonly #seen = new WeakSet<TaskResult>();
  #pending: SubdirectoryFiles[] = [];
  #flushing: Promise<void> = Promise.resolve();

  constructor(outputRoot: string, intervalMs = 2000) {
    this.#outputRoot = outputRoot;
    // A failed merge keeps its entries pending; only the final flush reports the failure.
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), intervalMs);
    this.#timer.unref();
  }

  /** Queues the entries of a task result (each result object once). */
  add(result: TaskResult): void {
    if (this.#seen.has(result)) return;
    this.#seen.add(result);
    if (result.metadata?.length) this.#pending.push(...result.metadata);
  }

  /** Merges everything queued so far; one merge at a time. */
  flush(): Promise<void> {
    const run = this.#flushing.catch(() => undefined).then(async () => {
      const batch = this.#pending;
      if (batch.length === 0) return;
      this.#pending = [];
      try {
        await addMetadataFiles(this.#outputRoot, batch);
      } catch (err) {
        this.#pending = [...batch, ...this.#pending];
        throw err;
      }
    });
    this.#flushing = run;
    return run;
  }

  /** Stops the periodic merges and makes the final one. @throws StorageError when it fails. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
