/**
 * Every run writes what a dashboard shows into its output folder, so `plateflow dashboard <out>`
 * (another terminal, another machine on the shared filesystem) can follow it while it runs and
 * show it after it ended, whether or not the run itself serves a dashboard:
 *
 * ```
 * <plate out>/.plateflow/dashboard-events.jsonl     one JSON object per line, append-only
 *   {"v":1,"type":"plan","plate":{name, root, format, axis, wells, grid, steps, tasks:[{id, axis}]}}
 *   {"type":"start","task":"A01","worker":0}
 *   {"type":"done","result":{…TaskResult, without its metadata entries…}}
 *   {"type":"log","level":"info","message":"…"}
 *   {"type":"end"}
 * <batch out>/.plateflow/dashboard-events.jsonl     the batch's own: which plate folders it started
 *   {"v":1,"type":"batch"}
 *   {"type":"plate","name":"a_plate"}
 *   {"type":"end"}
 * ```
 *
 * Records are queued as objects and written every 250 ms, one append per batch: a task costs the
 * run one array push, and JSON is built off the path of dispatch. A reader takes whole lines only,
 * so a line being appended is read on the next poll. A new run into the folder starts a new file
 * (renamed into place, so a new inode): readers that see the inode change start over.
 *
 * @module
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { RunEvent } from '../execution/executor.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import type { PlateInfo } from './state.js';

export const EVENT_LOG = 'dashboard-events.jsonl';

/** The log's path relative to its output folder (tests that compare folders byte for byte leave it out: it holds timings). */
export const EVENT_LOG_PATH = `${CHECKPOINT_DIR}/${EVENT_LOG}`;

type DoneResult = Extract<RunEvent, { type: 'task:done' }>['result'];

export type LogRecord =
  | { readonly v?: number; readonly type: 'plan'; readonly plate: PlateInfo }
  | { readonly v?: number; readonly type: 'batch' }
  | { readonly type: 'plate'; readonly name: string }
  | { readonly type: 'start'; readonly task: string; readonly worker?: number }
  | { readonly type: 'done'; readonly result: DoneResult }
  | { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly message: string }
  | { readonly type: 'end' };

export function eventLogPath(outputRoot: string): string {
  return path.join(outputRoot, CHECKPOINT_DIR, EVENT_LOG);
}

const FLUSH_MS = 250;

export class EventLogWriter {
  readonly #file: string;
  #pending: LogRecord[] = [];
  #writing: Promise<void>;
  readonly #timer: ReturnType<typeof setInterval>;
  #failed = false;
  #closed: Promise<void> | undefined;
  readonly #warn: (message: string) => void;

  /** A plate's log, started with its plan (the inputs stay out: only a live run serves those). */
  static forPlate(info: PlateInfo, warn: (message: string) => void): EventLogWriter {
    const { tasks, ...plate } = info;
    return new EventLogWriter(info.outputRoot, { v: 1, type: 'plan', plate: { ...plate, tasks: tasks.map((t) => ({ id: t.id, axis: t.axis })) } }, warn);
  }

  /** A batch folder's log: the plate folders as they start. */
  static forBatch(outputRoot: string, warn: (message: string) => void): EventLogWriter {
    return new EventLogWriter(outputRoot, { v: 1, type: 'batch' }, warn);
  }

  private constructor(outputRoot: string, first: LogRecord, warn: (message: string) => void) {
    this.#file = eventLogPath(outputRoot);
    this.#warn = warn;
    // Not fsynced: the log serves a viewer; a torn or lost tail costs nothing but a stale map.
    this.#writing = writeFileAtomic(this.#file, JSON.stringify(first) + '\n', { fsync: 'none' }).catch((err: unknown) => this.#fail(err));
    this.#timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  /** Task starts and ends and log lines; other run events say nothing a map needs. */
  record(event: RunEvent): void {
    if (event.type === 'task:start') this.#pending.push({ type: 'start', task: event.taskId, ...(event.worker !== undefined ? { worker: event.worker } : {}) });
    else if (event.type === 'task:done') this.#pending.push({ type: 'done', result: event.result });
    else if (event.type === 'log') this.#pending.push({ type: 'log', level: event.level, message: event.message });
  }

  plate(name: string): void {
    this.#pending.push({ type: 'plate', name });
  }

  flush(): Promise<void> {
    if (this.#pending.length === 0 || this.#failed) return this.#writing;
    const records = this.#pending;
    this.#pending = [];
    this.#writing = this.#writing.then(() => (this.#failed ? undefined : append(this.#file, records.map(line).join('')))).catch((err: unknown) => this.#fail(err));
    return this.#writing;
  }

  /** Writes `end` and what is queued; idempotent. Never rejects. */
  close(): Promise<void> {
    this.#closed ??= (() => {
      clearInterval(this.#timer);
      this.#pending.push({ type: 'end' });
      return this.flush();
    })();
    return this.#closed;
  }

  /** The log only serves the dashboard: a full disk is the run's problem to report, not this file's. */
  #fail(err: unknown): void {
    if (!this.#failed) this.#warn(`cannot write ${this.#file}: ${err instanceof Error ? err.message : String(err)}; \`plateflow dashboard\` will not follow this run`);
    this.#failed = true;
  }
}

/** One line; a result's metadata entries are in plateflow_metadata.json already, and large. */
function line(record: LogRecord): string {
  if (record.type !== 'done') return JSON.stringify(record) + '\n';
  const { metadata: _inMetadataFile, ...result } = record.result;
  return JSON.stringify({ type: 'done', result }) + '\n';
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

/** Where a reader is in a log: the file (by inode) and the byte after the last whole line read. */
export interface LogPosition {
  readonly ino: number;
  readonly offset: number;
}

/**
 * The whole lines after `from`. When the file is not the one `from` was in (a new run replaced
 * it, or it shrank), reading starts over at its beginning and `restarted` says so.
 * @throws the fs error when the file cannot be opened (ENOENT: not there yet)
 */
export async function readEventLog(file: string, from?: LogPosition): Promise<{ records: LogRecord[]; position: LogPosition; restarted: boolean }> {
  const handle = await open(file, 'r');
  try {
    const { size, ino } = await handle.stat();
    const restarted = from !== undefined && (from.ino !== ino || size < from.offset);
    const offset = from && !restarted ? from.offset : 0;
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    const records: LogRecord[] = [];
    if (end >= 0) {
      for (const text of buffer.subarray(0, end).toString('utf8').split('\n')) {
        if (text.trim() === '') continue;
        try {
          records.push(JSON.parse(text) as LogRecord);
        } catch {
          // A torn line (a run killed mid-write, a full disk) is skipped; the lines after it still count.
        }
      }
    }
    return { records, position: { ino, offset: offset + end + 1 }, restarted };
  } finally {
    await handle.close();
  }
}
