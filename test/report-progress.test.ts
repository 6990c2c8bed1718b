import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../src/execution/executor.js';
import type { TaskResult } from '../src/execution/result.js';
import { chooseProgressMode, createProgressReporter } from '../src/report/progress.js';

class FakeStream {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

function done(taskId: string, status: TaskResult['status'] = 'ok', images = 10): RunEvent {
  return {
    type: 'task:done',
    result: {
      taskId,
      axis: { well: taskId },
      status,
      seconds: 0.25,
      images,
      outputs: [],
      measurements: [],
      ...(status === 'ok' ? {} : { error: { name: 'StepFailedError', code: 'E_STEP_FAILED', message: `task ${taskId}: boom\nsecond line`, stack: 'StepFailedError: x\n    at secret (file.ts:1:1)' } }),
    },
  };
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]|\r/g, '');

describe('TTY progress', () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 100;
  });
  afterEach(() => vi.useRealTimers());

  it('draws one bar per plate with done/total, images/s, ETA and failures', () => {
    const stream = new FakeStream(true);
    const progress = createProgressReporter({ mode: 'tty', stream, plates: [{ name: 'plate-1', total: 8 }, { name: 'plate-2', total: 4 }], now: () => clock });
    const p1 = progress.listener('plate-1');
    p1({ type: 'task:start', taskId: 'A01' });
    clock += 2;
    p1(done('A01'));
    p1(done('A02', 'error'));
    vi.advanceTimersByTime(100);
    const screen = stripAnsi(stream.text);
    const bar1 = screen.split('\n').filter((l) => l.startsWith('plate-1')).pop()!;
    expect(bar1).toContain('2/8');
    expect(bar1).toContain(' 25%');
    expect(bar1).toContain('10.0 img/s'); // 20 images in 2 s
    expect(bar1).toContain('ETA 6.00s'); // 1 s per task, 6 left
    expect(bar1).toContain('1 failed');
    expect(bar1).toMatch(/\[█+░+\]/);
    expect(screen).toMatch(/plate-2\s+\[░+\]\s+0\/4\s+0%.*waiting/);
    // The failure is printed once, above the bars, with its code; the stack is not.
    expect(screen.match(/✗ plate-1 A02 error — \[E_STEP_FAILED\] StepFailedError: task A02: boom/g)).toHaveLength(1);
    expect(screen).not.toContain('secret');
    progress.close();
  });

  it('redraws at most once per tick however many events arrive, in place', () => {
    const stream = new FakeStream(true);
    const progress = createProgressReporter({ mode: 'tty', stream, plates: [{ name: 'p', total: 1000 }], now: () => clock });
    progress.event(done('T0')); // first event: drawn at once
    const afterFirst = stream.chunks.length;
    for (let i = 1; i < 500; i++) progress.event(done(`T${i}`));
    expect(stream.chunks.length).toBe(afterFirst);
    vi.advanceTimersByTime(100);
    expect(stream.chunks.length).toBe(afterFirst + 1);
    vi.advanceTimersByTime(1000); // nothing changed: no redraw
    expect(stream.chunks.length).toBe(afterFirst + 1);
    const last = stream.chunks.at(-1)!;
    // Moves up over the one bar line drawn before, clears, redraws it.
    expect(last.startsWith('\x1b[1F\x1b[J')).toBe(true);
    expect(stripAnsi(last)).toContain('500/1000');
    progress.close();
  });

  it('keeps every bar within the terminal width, and close() draws the final state once', () => {
    const stream = new FakeStream(true, 50);
    const progress = createProgressReporter({ mode: 'tty', stream, plates: [{ name: 'a-very-long-plate-name-that-goes-on-and-on', total: 2 }], now: () => clock });
    progress.event(done('A01'));
    clock += 1;
    progress.event(done('A02'));
    progress.close();
    progress.close();
    const lines = stripAnsi(stream.text).split('\n').filter(Boolean);
    for (const l of lines) expect(l.length).toBeLessThan(50);
    expect(lines.at(-1)).toContain('2/2');
    expect(lines.at(-1)).toContain('done in');
    const count = stream.chunks.length;
    progress.event(done('A03'));
    vi.advanceTimersByTime(500);
    expect(stream.chunks.length).toBe(count);
  });

  it('prints log messages above the bars without tearing them', () => {
    const stream = new FakeStream(true);
    const progress = createProgressReporter({ mode: 'tty', stream, plates: [{ name: 'p', total: 3 }], now: () => clock });
    progress.event(done('A01'));
    progress.log('skipped /plate/notes.tif: no parser matched', 'warn');
    vi.advanceTimersByTime(100);
    const last = stripAnsi(stream.chunks.at(-1)!).split('\n');
    expect(last[0]).toBe('warning: skipped /plate/notes.tif: no parser matched');
    expect(last[1]).toMatch(/^p\s+\[/);
    progress.close();
  });

  it('shows the active plates and one line for the rest of a large batch', () => {
    const stream = new FakeStream(true);
    const plates = Array.from({ length: 20 }, (_, i) => ({ name: `plate-${i}`, total: 1 }));
    const progress = createProgressReporter({ mode: 'tty', stream, plates, now: () => clock });
    for (let i = 0; i < 12; i++) progress.event(done('A01', i === 3 ? 'error' : 'ok'), `plate-${i}`);
    progress.event({ type: 'task:start', taskId: 'A01' }, 'plate-12');
    progress.close();
    const frame = stripAnsi(stream.chunks.at(-1)!).split('\n').filter((l) => !l.startsWith('✗') && l);
    expect(frame).toHaveLength(8);
    expect(frame[0]).toMatch(/^plate-12\s/);
    expect(frame.at(-1)).toBe('… 12 more plates finished, 1 waiting, 1 failed tasks among them');
  });
});

describe('plain-line progress (CI, pipes)', () => {
  it('writes one line per finished task with no escape codes', () => {
    const stream = new FakeStream(false);
    const progress = createProgressReporter({ stream, plates: [{ name: 'p', total: 2 }] });
    expect(progress.mode).toBe('lines');
    progress.event({ type: 'task:start', taskId: 'A01' });
    progress.event(done('A01'));
    progress.event(done('A02', 'timeout'));
    progress.log('slow disk', 'warn');
    progress.close();
    expect(stream.text).toBe(
      '[1/2] A01 ok 0.25s\n' + '[2/2] A02 timeout 0.25s — [E_STEP_FAILED] StepFailedError: task A02: boom\n' + 'warning: slow disk\n',
    );
  });

  it('names the plate when there are several', () => {
    const stream = new FakeStream(false);
    const progress = createProgressReporter({ mode: 'lines', stream, plates: [{ name: 'p1' }, { name: 'p2' }] });
    progress.listener('p2')(done('B01'));
    expect(stream.text).toBe('[p2 1] B01 ok 0.25s\n');
  });
});

describe('JSON progress', () => {
  it('writes one parseable object per event', () => {
    const stream = new FakeStream(true);
    const progress = createProgressReporter({ mode: 'json', stream, plates: [{ name: 'p', total: 2 }] });
    progress.event({ type: 'task:start', taskId: 'A01', worker: 0 });
    progress.event(done('A01'));
    progress.event(done('A02', 'killed'));
    progress.close();
    const events = stream.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['task:start', 'task:done', 'task:done']);
    expect(events[0]).toMatchObject({ plate: 'p', taskId: 'A01', worker: 0 });
    expect(events[1]).toMatchObject({ taskId: 'A01', status: 'ok', images: 10, done: 1, total: 2, failed: 0 });
    expect(events[2]).toMatchObject({ taskId: 'A02', status: 'killed', done: 2, failed: 1, error: { code: 'E_STEP_FAILED' } });
    expect(typeof events[2]!.time).toBe('string');
    expect(events[1]).not.toHaveProperty('measurements');
  });
});

describe('quiet and mode choice', () => {
  it('quiet writes nothing', () => {
    const stream = new FakeStream(true);
    const progress = createProgressReporter({ mode: 'quiet', stream });
    progress.event(done('A01', 'error'));
    progress.log('x');
    progress.close();
    expect(stream.chunks).toEqual([]);
  });

  it('picks bars only for an interactive terminal outside CI', () => {
    expect(chooseProgressMode({ stream: { write: () => true, isTTY: true }, env: {} })).toBe('tty');
    expect(chooseProgressMode({ stream: { write: () => true, isTTY: true }, env: { CI: 'true' } })).toBe('lines');
    expect(chooseProgressMode({ stream: { write: () => true, isTTY: true }, env: { TERM: 'dumb' } })).toBe('lines');
    expect(chooseProgressMode({ stream: { write: () => true }, env: {} })).toBe('lines');
    expect(chooseProgressMode({ json: true, stream: { write: () => true, isTTY: true } })).toBe('json');
    expect(chooseProgressMode({ json: true, quiet: true })).toBe('quiet');
  });
});

describe('TTY progress without a known total', () => {
  it('shows a moving marker while running and a full, finished bar after close', () => {
    vi.useFakeTimers();
    try {
      let clock = 0;
      const stream = new FakeStream(true);
      const progress = createProgressReporter({ mode: 'tty', stream, plates: [{ name: 'p' }], now: () => clock });
      progress.event(done('A01'));
      expect(stripAnsi(stream.text)).toMatch(/^p\s+\[░*█░*\]\s+1\s+/m);
      clock = 2;
      progress.event(done('A02'));
      progress.close();
      const last = stripAnsi(stream.chunks.at(-1)!).trim();
      expect(last).toMatch(/^p\s+\[█+\]\s+2\/2\s+100%.*done in 2\.00s$/);
    } finally {
      vi.useRealTimers();
    }
  });
});
