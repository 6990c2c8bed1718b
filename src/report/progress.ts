/**
 * Live progress from run events, in one of four modes:
 *
 * - `tty`   — a bar per plate redrawn in place (done/total, images/s, ETA, failures), at most once
 *             per tick (100 ms): a thread pool can finish hundreds of small tasks a second, and
 *             redrawing per event would spend more time on the terminal than on the images.
 *             Failures and log messages are printed above the bars as they happen.
 * - `lines` — one plain line per finished task, for CI logs and pipes (no escape codes).
 * - `json`  — one JSON object per event per line, for programs.
 * - `quiet` — nothing.
 *
 * The reporter only reads events; it never changes how a run goes.
 *
 * @module
 */
import type { SerializedError } from '../errors.js';
import type { RunEvent } from '../execution/executor.js';
import { formatDuration } from './format.js';
import { errorHeadline } from './problems.js';
import { redrawSequence, renderBars } from './progress-bars.js';
import { markDone, markStarted, newPlateProgress, type PlateProgress } from './progress-state.js';

export type ProgressMode = 'tty' | 'lines' | 'json' | 'quiet';

/** What the reporter writes to: `process.stderr`, or a fake in tests. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width; 80 when unknown. */
  readonly columns?: number;
}

export interface ProgressOptions {
  /** @defaultValue `chooseProgressMode({ stream })` */
  readonly mode?: ProgressMode;
  /** @defaultValue `process.stderr` (stdout stays free for the result document) */
  readonly stream?: ProgressStream;
  /** Plates known up front, in display order, with their task counts when known. */
  readonly plates?: readonly { readonly name: string; readonly total?: number }[];
  /** Minimum time between two TTY redraws. @defaultValue 100 */
  readonly intervalMs?: number;
  /** Clock in seconds, injectable for tests. @defaultValue `performance.now() / 1000` */
  readonly now?: () => number;
}

export interface ProgressReporter {
  readonly mode: ProgressMode;
  /** An `onEvent` callback that attributes events to `plate` (the first plate when omitted). */
  listener(plate?: string): (event: RunEvent) => void;
  event(event: RunEvent, plate?: string): void;
  /** Tell the reporter how many tasks a plate has, once compiled; enables percent and ETA. */
  setTotal(plate: string, total: number): void;
  /** A message for the user that must not tear the bars (use instead of writing to stderr). */
  log(message: string, level?: 'info' | 'warn', plate?: string): void;
  /** Draws the final state and stops the timer. Idempotent. */
  close(): void;
}

/** `json` and `quiet` as asked; otherwise bars on an interactive terminal, plain lines elsewhere (CI, pipes, `TERM=dumb`). */
export function chooseProgressMode(options: { json?: boolean; quiet?: boolean; stream?: ProgressStream; env?: NodeJS.ProcessEnv } = {}): ProgressMode {
  if (options.quiet) return 'quiet';
  if (options.json) return 'json';
  const env = options.env ?? process.env;
  const stream = options.stream ?? process.stderr;
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return stream.isTTY === true && !ci && env.TERM !== 'dumb' ? 'tty' : 'lines';
}

export function createProgressReporter(options: ProgressOptions = {}): ProgressReporter {
  return new Reporter(options);
}

class Reporter implements ProgressReporter {
  readonly mode: ProgressMode;
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #plates = new Map<string, PlateProgress>();
  /** TTY: lines waiting for the next redraw, and how many bar lines are on screen now. */
  #pendingLogs: string[] = [];
  #drawn = 0;
  #dirty = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: ProgressOptions) {
    this.#stream = options.stream ?? process.stderr;
    this.mode = options.mode ?? chooseProgressMode({ stream: this.#stream });
    this.#now = options.now ?? (() => performance.now() / 1000);
    this.#intervalMs = options.intervalMs ?? 100;
    for (const p of options.plates ?? []) this.#plates.set(p.name, newPlateProgress(p.name, p.total));
  }

  listener(plate?: string): (event: RunEvent) => void {
    return (event) => this.event(event, plate);
  }

  setTotal(plate: string, total: number): void {
    this.#plate(plate).total = total;
    this.#changed();
  }

  log(message: string, level: 'info' | 'warn' = 'info', plate?: string): void {
    this.event({ type: 'log', level, message }, plate);
  }

  event(event: RunEvent, plateName?: string): void {
    // `run:all-started` only paces the submission of the next plate: nothing to show.
    if (this.#closed || this.mode === 'quiet' || event.type === 'run:all-started') return;
    const plate = this.#plate(plateName);
    const now = this.#now();
    if (event.type === 'run:start') plate.total = event.tasks;
    else if (event.type === 'task:start') markStarted(plate, event.taskId, now);
    else if (event.type === 'task:done') markDone(plate, event.result, now);
    if (this.mode === 'json') this.#write(JSON.stringify(this.#jsonEvent(event, plate)) + '\n');
    else if (this.mode === 'lines') this.#line(event, plate);
    else this.#queue(event, plate);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    // A plate whose total was never given is complete once nothing runs: every task that was
    // dispatched has reported (cancelled ones too), so the final bar shows it as finished.
    const now = this.#now();
    for (const p of this.#plates.values()) {
      if (p.total === undefined && p.done > 0 && p.running.size === 0) {
        p.total = p.done;
        p.finishedAt ??= now;
        this.#dirty = true;
      }
    }
    if (this.mode === 'tty' && (this.#dirty || this.#pendingLogs.length > 0)) this.#redraw();
  }

  #plate(name?: string): PlateProgress {
    const key = name ?? this.#plates.keys().next().value ?? '';
    let p = this.#plates.get(key);
    if (!p) this.#plates.set(key, (p = newPlateProgress(key)));
    return p;
  }

  #write(text: string): void {
    this.#stream.write(text);
  }

  /** Plate prefix only when there is more than one plate to tell apart. */
  #prefix(plate: PlateProgress): string {
    return this.#plates.size > 1 && plate.name ? `${plate.name} ` : '';
  }

  #line(event: RunEvent, plate: PlateProgress): void {
    if (event.type === 'log') {
      this.#write(`${event.level === 'warn' ? 'warning: ' : ''}${this.#prefix(plate)}${event.message}\n`);
    } else if (event.type === 'task:done') {
      const r = event.result;
      const count = plate.total !== undefined ? `${plate.done}/${plate.total}` : `${plate.done}`;
      const what = r.status === 'ok' && r.resumed === 'task' ? 'resumed (finished by an earlier run)' : `${r.status} ${formatDuration(r.seconds)}`;
      this.#write(`[${this.#prefix(plate)}${count}] ${r.taskId} ${what}${r.error ? ` — ${firstLine(r.error)}` : ''}\n`);
    }
  }

  #jsonEvent(event: Exclude<RunEvent, { type: 'run:all-started' }>, plate: PlateProgress): Record<string, unknown> {
    const base = { type: event.type, plate: plate.name, time: new Date().toISOString() };
    if (event.type === 'log') return { ...base, level: event.level, message: event.message };
    if (event.type === 'run:start') return { ...base, tasks: event.tasks, executor: event.executor, ...(event.resumed ? { resumed: event.resumed } : {}) };
    if (event.type === 'task:start') return { ...base, taskId: event.taskId, ...(event.worker !== undefined ? { worker: event.worker } : {}) };
    const { taskId, axis, status, seconds, images, peakRssBytes, error, attempts, resumed } = event.result;
    return {
      ...base,
      taskId,
      axis,
      status,
      ...(resumed !== undefined ? { resumed } : {}),
      seconds,
      images,
      ...(peakRssBytes !== undefined ? { peakRssBytes } : {}),
      ...(attempts !== undefined ? { attempts } : {}),
      ...(error ? { error } : {}),
      done: plate.done,
      ...(plate.total !== undefined ? { total: plate.total } : {}),
      failed: plate.failed,
    };
  }

  #queue(event: RunEvent, plate: PlateProgress): void {
    if (event.type === 'log') this.#pendingLogs.push(`${event.level === 'warn' ? 'warning: ' : ''}${this.#prefix(plate)}${event.message}`);
    else if (event.type === 'task:done' && event.result.status !== 'ok') {
      const r = event.result;
      this.#pendingLogs.push(`✗ ${this.#prefix(plate)}${r.taskId} ${r.status}${r.error ? ` — ${firstLine(r.error)}` : ''}`);
    }
    this.#changed();
  }

  #changed(): void {
    this.#dirty = true;
    if (this.mode !== 'tty' || this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.#dirty || this.#pendingLogs.length > 0) this.#redraw();
    }, this.#intervalMs);
    // Progress must never be what keeps a finished run's process alive.
    this.#timer.unref?.();
    // Draw the first state at once so a long first task does not look like a hang.
    this.#redraw();
  }

  #redraw(): void {
    const width = Math.max(20, (this.#stream.columns ?? 80) - 1);
    const bars = renderBars([...this.#plates.values()], this.#now(), width);
    // Log lines may be long (full paths); they are printed whole and may wrap, which is fine
    // because they are above the bars and never redrawn.
    this.#write(redrawSequence(this.#drawn, this.#pendingLogs, bars));
    this.#pendingLogs = [];
    this.#drawn = bars.length;
    this.#dirty = false;
  }
}

function firstLine(error: SerializedError): string {
  return errorHeadline(error).split('\n')[0]!;
}
