/**
 * A run watched with `--dashboard` also writes what it shows into each plate's output folder, so
 * `plateflow dashboard <out>` (another terminal, another machine on the shared filesystem) can
 * show it while it runs and after it ended:
 *
 * ```
 * <out>/.plateflow/dashboard-events.jsonl     one JSON object per line, append-only
 *   {"v":1,"type":"plan","plate":{name, root, format, axis, wells, grid, steps, tasks:[{id, axis}]}}
 *   {"type":"start","task":"A01","worker":0}
 *   {"type":"done","result":{…TaskResult, without its metadata entries…}}
 *   {"type":"end"}
 * ```
 *
 * Lines are buffered and appended every 250 ms (one write per batch, not per task). A reader
 * takes only whole lines, so a line being appended is read on the next poll. A new run into the
 * folder starts the file again (the run holds the folder's lock when it does).
 *
 * @module
 */
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { RunEvent } from '../execution/executor.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import type { PlateInfo } from './state.js';

export const EVENT_LOG = 'dashboard-events.jsonl';

export type LogRecord =
  | { readonly v?: number; readonly type: 'plan'; readonly plate: PlateInfo }
  | { readonly type: 'start'; readonly task: string; readonly worker?: number }
  | { readonly type: 'done'; readonly result: Extract<RunEvent, { type: 'task:done' }>['result'] }
  | { readonly type: 'end' };

export function eventLogPath(outputRoot: string): string {
  return path.join(outputRoot, CHECKPOINT_DIR, EVENT_LOG);
}

export class EventLogWriter {
  readonly #file: string;
  #lines: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  readonly #timer: ReturnType<typeof setInterval>;
  #failed = false;
  readonly #warn: (message: string) => void;

  /** Starts the file with the plate's plan (the inputs stay out: only the live run serves those). */
  constructor(info: PlateInfo, warn: (message: string) => void) {
    this.#file = eventLogPath(info.outputRoot);
    this.#warn = warn;
    const { tasks, ...plate } = info;
    const first = JSON.stringify({ v: 1, type: 'plan', plate: { ...plate, tasks: tasks.map((t) => ({ id: t.id, axis: t.axis })) } }) + '\n';
    this.#writing = writeFile(this.#file, first).catch((err: unknown) => this.#fail(err));
    this.#timer = setInterval(() => void this.flush(), 250);
    this.#timer.unref();
  }

  record(event: RunEvent): void {
    if (event.type === 'task:start') this.#lines.push(JSON.stringify({ type: 'start', task: event.taskId, ...(event.worker !== undefined ? { worker: event.worker } : {}) }));
    else if (event.type === 'task:done') {
      const { metadata: _inMetadataFile, ...result } = event.result;
      this.#lines.push(JSON.stringify({ type: 'done', result }));
    }
  }

  flush(): Promise<void> {
    if (this.#lines.length === 0 || this.#failed) return this.#writing;
    const text = this.#lines.join('\n') + '\n';
    this.#lines = [];
    this.#writing = this.#writing.then(() => append(this.#file, text)).catch((err: unknown) => this.#fail(err));
    return this.#writing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#lines.push(JSON.stringify({ type: 'end' }));
    await this.flush();
  }

  /** The log only serves the dashboard: a full disk is the run's problem to report, not this file's. */
  #fail(err: unknown): void {
    if (!this.#failed) this.#warn(`dashboard: cannot write ${this.#file}: ${err instanceof Error ? err.message : String(err)}; \`plateflow dashboard\` will not see this run live`);
    this.#failed = true;
  }
}

async function append(file: string, text: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'a');
    await handle.write(text);
  } finally {
    await handle?.close();
  }
}

/** Whole lines from `offset` on; `offset` moves past the last complete line only. */
export async function readEventLog(file: string, offset: number): Promise<{ records: LogRecord[]; offset: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size < offset) return readEventLog(file, 0); // the file was started again by a new run
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0) return { records: [], offset };
    const records: LogRecord[] = [];
    for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        // A torn line (a run killed mid-write) is skipped; the lines after it still count.
      }
    }
    return { records, offset: offset + end + 1 };
  } finally {
    await handle.close();
  }
}
