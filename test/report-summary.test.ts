import { describe, expect, it } from 'vitest';
import { PlateflowError, StepFailedError, TiffError, serializeError } from '../src/errors.js';
import type { TaskResult } from '../src/execution/result.js';
import { totalsOf } from '../src/report/results.js';
import { formatBatchSummary, formatSummary, table } from '../src/report/summary.js';

function ok(taskId: string, extra: Partial<TaskResult> = {}): TaskResult {
  return { taskId, axis: { well: taskId }, status: 'ok', seconds: 1.5, images: 12, outputs: [], measurements: [], ...extra };
}

function failed(taskId: string, status: TaskResult['status'], error: unknown): TaskResult {
  return { taskId, axis: { well: taskId }, status, error: serializeError(error), seconds: 0.5, images: 12, outputs: [], measurements: [] };
}

const longMessage = 'x'.repeat(500) + ' END-OF-LONG-MESSAGE';
const tiff = new TiffError('/plates/p1/B03_s1_w1.tif', 'truncated strip 4 of 9', { cause: new Error('ENOSPC: no space left on device') });
const results = new Map<string, TaskResult>([
  ['A01', ok('A01', { peakRssBytes: 300 * 1024 * 1024 })],
  ['B03', failed('B03', 'error', new StepFailedError('B03', 'count nuclei', 'otsu_threshold', tiff))],
  ['C07', failed('C07', 'timeout', new PlateflowError('E_TASK_TIMEOUT', `${longMessage}\nsecond line of the message`))],
  ['D10', { ...ok('D10'), status: 'skipped' as const }],
]);

describe('formatSummary (one plate)', () => {
  const text = formatSummary('ImageXpress plate /p1', totalsOf(results, 4), results, { debug: false });

  it('shows the totals with time, images/s and peak RSS', () => {
    expect(text.split('\n')[0]).toBe('ImageXpress plate /p1');
    expect(text).toMatch(/tasks\s+ok\s+resumed\s+failed\s+skipped\/cancelled\s+images\s+time\s+images\/s\s+peak RSS/);
    expect(text).toMatch(/4\s+1\s+0\s+2\s+1\s+12\s+4\.00s\s+3\.0\s+300\.0 MiB/);
  });

  it('lists every problem with its code, message, context and full cause chain, untruncated', () => {
    expect(text).toContain('PROBLEMS (3: 1 error, 1 timeout, 1 skipped)');
    expect(text).toContain('✗ B03 — error');
    expect(text).toContain('[E_STEP_FAILED] StepFailedError: task B03, step "count nuclei", function otsu_threshold: /plates/p1/B03_s1_w1.tif: truncated strip 4 of 9');
    expect(text).toContain('context: task=B03 step="count nuclei" fn=otsu_threshold');
    expect(text).toContain('caused by: [E_TIFF_INVALID] TiffError: /plates/p1/B03_s1_w1.tif: truncated strip 4 of 9');
    expect(text).toContain('caused by: ENOSPC: no space left on device');
    expect(text).toContain(longMessage);
    expect(text).toContain('second line of the message');
    expect(text).toContain('✗ D10 — skipped');
    expect(text).toContain('(no error was recorded for this task)');
  });

  it('prints stacks only in debug mode', () => {
    expect(text).not.toMatch(/^\s+at /m);
    const debug = formatSummary('t', totalsOf(results, 4), results, { debug: true });
    expect(debug).toMatch(/^\s+at .*report-summary\.test\.ts/m);
  });

  it('says so when nothing went wrong', () => {
    const good = new Map([['A01', ok('A01')]]);
    const t = formatSummary('t', totalsOf(good, 1), good);
    expect(t).toContain('No problems: all 1 task ok.');
    expect(t).not.toContain('PROBLEMS');
    expect(t).toMatch(/peak RSS\n.*—$/m);
  });
});

describe('formatBatchSummary (several plates)', () => {
  const other = { 'A01': ok('A01'), 'A02': failed('A02', 'killed', new PlateflowError('E_TASK_KILLED', 'worker exited with signal SIGKILL (out of memory?)')) };
  const text = formatBatchSummary(
    [
      { name: 'plate-1', totals: totalsOf(results, 4), results },
      { name: 'plate-2', totals: totalsOf(new Map(Object.entries(other)), 2), results: other },
    ],
    { title: 'batch of 2 plates', seconds: 5, debug: false },
  );

  it('has a row per plate and a TOTAL row with the batch wall time', () => {
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^\s+plate\s+tasks/);
    expect(lines.find((l) => l.trimStart().startsWith('plate-1'))).toMatch(/plate-1\s+4\s+1\s+0\s+2\s+1/);
    expect(lines.find((l) => l.trimStart().startsWith('plate-2'))).toMatch(/plate-2\s+2\s+1\s+0\s+1\s+0\s+12/);
    expect(lines.find((l) => l.trimStart().startsWith('TOTAL'))).toMatch(/TOTAL\s+6\s+2\s+0\s+3\s+1\s+24\s+5\.00s\s+4\.8\s+300\.0 MiB/);
  });

  it('names the plate of each problem', () => {
    expect(text).toContain('PROBLEMS (4: 1 error, 1 timeout, 1 killed, 1 skipped)');
    expect(text).toContain('✗ plate-1 B03 — error');
    expect(text).toContain('✗ plate-2 A02 — killed');
    expect(text).toContain('[E_TASK_KILLED] PlateflowError: worker exited with signal SIGKILL (out of memory?)');
  });
});

describe('peak RSS of the process tree', () => {
  const MiB = 1024 * 1024;
  const tree = { treeBytes: 900 * MiB, largestProcessBytes: 400 * MiB, method: 'proc', processes: 3, samples: 20, intervalMs: 200 } as const;
  const good = new Map([['A01', ok('A01', { peakRssBytes: 350 * MiB })]]);

  it('shows the run\'s tree peak instead of the largest task peak, and says what it covers', () => {
    const text = formatSummary('t', totalsOf(good, 1), good, { peakRss: tree });
    expect(text).toMatch(/1\s+1\s+0\s+0\s+0\s+12\s+1\.00s\s+12\.0\s+900\.0 MiB$/m);
    expect(text).toContain('peak RSS: the plateflow process and the processes under it together (up to 3 at once); the largest single process peaked at 400.0 MiB (what /usr/bin/time -v reports)');
  });

  it('says nothing more for a single process (threads, serial), and never shows less than a task\'s own peak', () => {
    const text = formatSummary('t', totalsOf(good, 1), good, { peakRss: { ...tree, treeBytes: 300 * MiB, largestProcessBytes: 300 * MiB, processes: 1 } });
    expect(text).toMatch(/350\.0 MiB$/m);
    expect(text).not.toContain('peak RSS:');
  });

  it('states the fallback where there is no /proc', () => {
    const text = formatSummary('t', totalsOf(good, 1), good, { peakRss: { treeBytes: 200 * MiB, largestProcessBytes: 200 * MiB, method: 'self', processes: 1, samples: 0 } });
    expect(text).toMatch(/350\.0 MiB$/m);
    expect(text).toContain('no /proc here, so worker processes were not sampled');
  });

  it('gives each plate of a batch its own peak, and the TOTAL row the batch\'s', () => {
    const text = formatBatchSummary(
      [
        { name: 'p1', totals: totalsOf(good, 1), results: good, peakRss: tree },
        { name: 'p2', totals: totalsOf(good, 1), results: good, peakRss: { ...tree, treeBytes: 700 * MiB } },
      ],
      { peakRss: { ...tree, treeBytes: 1000 * MiB, processes: 4 } },
    );
    const lines = text.split('\n');
    expect(lines.find((l) => l.trimStart().startsWith('p1'))).toMatch(/900\.0 MiB$/);
    expect(lines.find((l) => l.trimStart().startsWith('p2'))).toMatch(/700\.0 MiB$/);
    expect(lines.find((l) => l.trimStart().startsWith('TOTAL'))).toMatch(/1000\.0 MiB$/);
    expect(text).toContain('(up to 4 at once)');
  });
});

describe('skipped plates (lenient batch)', () => {
  it('are listed under PROBLEMS with their reason', () => {
    const good = new Map([['A01', ok('A01')]]);
    const text = formatBatchSummary([{ name: 'p1', totals: totalsOf(good, 1), results: good }], {
      skippedPlates: [{ plate: '/data/p2', reason: 'channel 3 not found (channels: 1, 2)' }],
    });
    expect(text).toContain('PROBLEMS (1: 1 plate skipped)');
    expect(text).toContain('✗ /data/p2 — plate skipped\n      channel 3 not found (channels: 1, 2)');
    expect(text).not.toContain('No problems');
  });
});

describe('table', () => {
  it('right-aligns numbers and left-aligns label columns', () => {
    expect(table([['name', 'n'], ['a', '100']], { leftColumns: 1 })).toBe('  name    n\n  a     100');
  });
});
