/**
 * What the progress display knows about one plate, updated from run events. Kept apart from the
 * renderers so the TTY bars, the log lines and the JSON events all count the same way.
 *
 * @module
 */
import type { TaskResult } from '../execution/result.js';

export interface PlateProgress {
  readonly name: string;
  /** Tasks the plate will run; undefined until the caller knows (then no ETA is shown). */
  total: number | undefined;
  /** Seconds (of the reporter's clock) at the plate's first event; undefined before it. */
  startedAt: number | undefined;
  /** When the last task finished, if `done` reached `total`. */
  finishedAt: number | undefined;
  done: number;
  ok: number;
  /** Of `done`: reported from an earlier run's checkpoints, no work (they count in `ok` too). */
  resumed: number;
  /** error, timeout or killed. */
  failed: number;
  /** cancelled or skipped. */
  notRun: number;
  /** Input images of the finished tasks, whatever their status (the work was read either way), resumed ones excepted. */
  images: number;
  readonly running: Set<string>;
}

export function newPlateProgress(name: string, total?: number): PlateProgress {
  return { name, total, startedAt: undefined, finishedAt: undefined, done: 0, ok: 0, resumed: 0, failed: 0, notRun: 0, images: 0, running: new Set() };
}

export function markStarted(p: PlateProgress, taskId: string, now: number): void {
  p.startedAt ??= now;
  p.running.add(taskId);
}

export function markDone(p: PlateProgress, result: TaskResult, now: number): void {
  p.startedAt ??= now;
  p.running.delete(result.taskId);
  p.done++;
  const resumed = result.status === 'ok' && result.resumed === 'task';
  if (resumed) p.resumed++;
  else p.images += result.images;
  if (result.status === 'ok') p.ok++;
  else if (result.status === 'cancelled' || result.status === 'skipped') p.notRun++;
  else p.failed++;
  if (p.total !== undefined && p.done >= p.total) p.finishedAt = now;
}

export function isFinished(p: PlateProgress): boolean {
  return p.finishedAt !== undefined;
}

export function elapsed(p: PlateProgress, now: number): number {
  return p.startedAt === undefined ? 0 : (p.finishedAt ?? now) - p.startedAt;
}

export function imagesPerSecond(p: PlateProgress, now: number): number {
  const s = elapsed(p, now);
  return s > 0 ? p.images / s : 0;
}

/**
 * Seconds left, by the mean time per finished task so far; undefined while nothing finished or the
 * total is unknown. Tasks of one plate are alike, so this is good enough and never jumps backwards
 * by much; a running-average ETA would react faster but flicker more.
 */
export function etaSeconds(p: PlateProgress, now: number): number | undefined {
  if (p.total === undefined) return undefined;
  if (p.done >= p.total) return 0;
  // Resumed tasks took no time: only computed ones say how long the rest will take.
  const computed = p.done - p.resumed;
  if (computed === 0) return undefined;
  return (elapsed(p, now) / computed) * (p.total - p.done);
}
