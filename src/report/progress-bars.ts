/**
 * The TTY renderer: one bar per plate, redrawn in place.
 *
 * Redrawing works by moving the cursor up over the lines drawn last time, clearing to the end of
 * the screen, printing any queued log lines (so they scroll away above the bars), then the bars.
 * That only works if every bar fits on one terminal line — a wrapped line would make the next
 * "move up" land one line short and smear the display — so every line is cut to the width.
 *
 * @module
 */
import { formatDuration, formatRate } from './format.js';
import { elapsed, etaSeconds, imagesPerSecond, isFinished, type PlateProgress } from './progress-state.js';

const ESC = '\x1b[';
/** Bars shown at most; a 50-plate batch shows the active plates and one line for the rest. */
export const MAX_BARS = 8;

/** One bar: `name  [█████░░░░░]  48/96  50%  123 img/s  ETA 1m02s  2 failed`. */
export function renderBar(p: PlateProgress, now: number, width: number, nameWidth: number): string {
  const count = p.total !== undefined ? `${p.done}/${p.total}` : `${p.done}`;
  const percent = p.total ? `${String(Math.floor((100 * p.done) / p.total)).padStart(3)}%` : '';
  const rate = `${formatRate(imagesPerSecond(p, now))} img/s`;
  const eta = etaSeconds(p, now);
  const time = isFinished(p) ? `done in ${formatDuration(elapsed(p, now))}` : eta !== undefined ? `ETA ${formatDuration(eta)}` : p.startedAt === undefined ? 'waiting' : `${formatDuration(elapsed(p, now))}`;
  const problems = [p.failed > 0 ? `${p.failed} failed` : '', p.notRun > 0 ? `${p.notRun} not run` : ''].filter(Boolean).join(', ');
  const resumed = p.resumed > 0 ? `${p.resumed} resumed` : '';
  const tail = [count, percent, rate, time, resumed, problems].filter(Boolean).join('  ');
  // On a narrow terminal the name gives way before the numbers do.
  const nameCells = Math.min(nameWidth, Math.max(6, width - tail.length - 2));
  const name = fit(p.name, nameCells).padEnd(nameCells);
  // The bar gets what is left, between 10 and 40 cells; below 10 it is dropped, not squeezed.
  const room = width - name.length - tail.length - 6;
  const cells = Math.min(40, room);
  const bar = cells >= 10 ? `[${meter(p, cells)}]  ` : '';
  return fit(`${name}  ${bar}${tail}`, width);
}

/** The lines of one redraw, at most MAX_BARS. */
export function renderBars(plates: readonly PlateProgress[], now: number, width: number): string[] {
  if (plates.length === 0) return [];
  const shown = plates.length <= MAX_BARS ? [...plates] : pickShown(plates);
  const nameWidth = Math.min(24, Math.max(...shown.map((p) => p.name.length)));
  const lines = shown.map((p) => renderBar(p, now, width, nameWidth));
  if (shown.length < plates.length) {
    const hidden = plates.filter((p) => !shown.includes(p));
    const finished = hidden.filter(isFinished).length;
    const failed = hidden.reduce((n, p) => n + p.failed, 0);
    lines.push(fit(`… ${finished} more plates finished, ${hidden.length - finished} waiting${failed > 0 ? `, ${failed} failed tasks among them` : ''}`, width));
  }
  return lines;
}

/** Escape sequence that replaces `previous` drawn lines with the log lines and then the bars. */
export function redrawSequence(previous: number, logLines: readonly string[], bars: readonly string[]): string {
  // ESC[nF: cursor to the start of the line n lines up; ESC[J: clear from there to the end of screen.
  const up = previous > 0 ? `${ESC}${previous}F` : '\r';
  return `${up}${ESC}J${[...logLines, ...bars].map((l) => l + '\n').join('')}`;
}

/** Running plates first (in order), then the waiting ones, leaving a line for the summary. */
function pickShown(plates: readonly PlateProgress[]): PlateProgress[] {
  const running = plates.filter((p) => p.startedAt !== undefined && !isFinished(p));
  const waiting = plates.filter((p) => p.startedAt === undefined);
  return [...running, ...waiting].slice(0, MAX_BARS - 1);
}

function meter(p: PlateProgress, cells: number): string {
  if (p.total === undefined || p.total === 0) {
    // Unknown total: a marker that moves with each finished task shows the run is alive.
    const at = p.done % cells;
    return '░'.repeat(at) + '█' + '░'.repeat(cells - at - 1);
  }
  const full = Math.min(cells, Math.floor((cells * p.done) / p.total));
  return '█'.repeat(full) + '░'.repeat(cells - full);
}

/** Cut to `width` characters, marking the cut with `…`. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : text.slice(0, width - 1) + '…';
}
