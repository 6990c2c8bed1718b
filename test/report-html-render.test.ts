import { describe, expect, it } from 'vitest';
import { serializeError } from '../src/errors.js';
import type { TaskResult } from '../src/execution/result.js';
import type { RunDocument } from '../src/report/document.js';
import { renderReport } from '../src/report/html.js';
import { jsonForScript } from '../src/report/html-escape.js';
import { aggregationOf, buildPlateMap } from '../src/report/plate-map.js';
import { totalsOf } from '../src/report/results.js';
import { HOSTILE, fixtureDocument } from './report-fixtures.js';

const at = new Date('2026-11-23T12:00:00Z');

function island(html: string): { plates: { values: Record<string, (number | null)[]>; statusOf: string[] }[] } {
  const m = /<script type="application\/json" id="plateflow-data">([\s\S]*?)<\/script>/.exec(html);
  return JSON.parse(m![1]!);
}

describe('renderReport', () => {
  const doc = fixtureDocument();
  const html = renderReport(doc, { generatedAt: at, debug: false });

  it('draws one cell per well of the plate grid, in row-major order', () => {
    const wells = [...html.matchAll(/<div class="cell [^"]*" data-i="(\d+)" data-well="([^"]+)"/g)].map((m) => m[2]);
    expect(wells).toHaveLength(96);
    expect(wells.slice(0, 3)).toEqual(['A01', 'A02', 'A03']);
    expect(wells.at(-1)).toBe('H12');
    expect(html).toMatch(/data-well="B07" data-status="error"/);
    expect(html).toMatch(/data-well="D01" data-status="absent"/);
  });

  it('escapes every piece of data: no markup from error messages reaches the page', () => {
    expect(html).not.toContain('<img');
    expect(html.match(/<script\b/g)).toHaveLength(2);
    expect(html).toContain('truncated strip in &lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;&lt;/script&gt;&lt;script&gt;');
    // The full cause chain is there, with codes.
    expect(html).toContain('[E_STEP_FAILED] StepFailedError: task B07, step &quot;count_nuclei&quot;, function otsu_threshold');
    expect(html).toContain('caused by: [E_TIFF_INVALID] PlateflowError: truncated strip in');
    expect(html).toContain('context: file=/data/B07_s1_w1.tif');
  });

  it('needs nothing from the network', () => {
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'`);
  });

  it('lists every problem and the per-step timings', () => {
    const problems = [...html.matchAll(/<tr data-task="([^"]+)" data-status="([^"]+)">/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(problems).toEqual(['B07:error', 'C03:timeout', 'C11:cancelled']);
    expect(html).toContain('Problems (3)');
    expect(html).toMatch(/<td>max_project_z<\/td><td class="num">34<\/td>/);
    expect(html).toMatch(/<td>count_nuclei<\/td><td class="num">33<\/td>/);
    expect(html).not.toMatch(/^\s+at /m);
  });

  it('carries per-well metric values for the script, summing counts over sites', () => {
    const data = island(html).plates[0]!;
    // A01 = row 0, column 1: countFor(0, 1, s) = 26 + ((3 + s) % 5), summed over sites 1 and 2.
    const expected = [1, 2].reduce((n, s) => n + 20 + 6 + ((3 + s) % 5), 0);
    expect(data.values['m:object_count']![0]).toBe(expected);
    expect(data.values['m:otsu_threshold']![0]).toBe(101.5); // mean of 101 and 102
    expect(data.values['m:object_count']![12 + 6]).toBeNull(); // B07 failed: no measurements
    expect(data.statusOf.filter((s) => s === 'absent')).toHaveLength(60);
  });

  it('shows stacks only in debug mode', () => {
    expect(renderReport(doc, { generatedAt: at, debug: true })).toContain('<summary>stack</summary>');
    expect(html).not.toContain('<summary>stack</summary>');
  });

  it('renders several plates with their own maps', () => {
    const two = renderReport({ title: 'batch <1>', plates: [doc, fixtureDocument({ root: '/data/plates/screen-43', rows: 8 })] }, { generatedAt: at });
    expect(two).toContain('<title>batch &lt;1&gt;</title>');
    expect(two.match(/<section class="card plate"/g)).toHaveLength(2);
    expect(two.match(/data-well="/g)).toHaveLength(192);
    expect(two).toMatch(/<td class="key">screen-43<\/td><td class="key"><strong>B07<\/strong>/);
  });

  it('lists plates a lenient batch skipped among the problems', () => {
    const html = renderReport({ plates: [doc], skippedPlates: [{ plate: '/data/<p2>', reason: 'no images <here>' }] }, { generatedAt: at });
    expect(html).toContain('Problems (4)');
    expect(html).toMatch(/<tr data-plate-skipped="\/data\/&lt;p2&gt;"><td class="key">\/data\/&lt;p2&gt;<\/td>.*plate skipped.*no images &lt;here&gt;/);
  });
});

describe('buildPlateMap', () => {
  it('aggregates a (well, site) axis per well, with the worst status', () => {
    const map = buildPlateMap(fixtureDocument({ tuple: true }));
    expect(map.layout).toBe('wells');
    expect(map.cells).toHaveLength(96);
    const a01 = map.cells[0]!;
    expect(a01.tasks).toEqual(['A01/1', 'A01/2']);
    expect(a01.values['m:object_count']).toBe([1, 2].reduce((n, s) => n + 26 + ((3 + s) % 5), 0));
    expect(map.cells.find((c) => c.id === 'B07')!.status).toBe('error');
  });

  it('infers the grid from well ids when the plate has none, keeping the plate spelling', () => {
    const doc = fixtureDocument({ rows: 1 });
    const renamed: RunDocument = {
      ...doc,
      plate: { ...doc.plate, grid: undefined, components: { well: ['A1', 'A2', 'O24'] } },
      tasks: { A1: { ...doc.tasks.A01!, taskId: 'A1', axis: { well: 'A1' } }, O24: { ...doc.tasks.A02!, taskId: 'O24', axis: { well: 'O24' } } },
    };
    const map = buildPlateMap(renamed);
    expect([map.rows, map.columns]).toEqual([16, 24]);
    expect(map.cells[0]).toMatchObject({ id: 'A1', status: 'ok' });
    expect(map.cells[1]).toMatchObject({ id: 'A2', status: 'not-run' });
    expect(map.cells[14 * 24 + 23]).toMatchObject({ id: 'O24', status: 'ok' });
  });

  it('falls back to one cell per task when the axis has no well', () => {
    const tasks = new Map<string, TaskResult>();
    for (let t = 1; t <= 10; t++) {
      const taskId = t === 4 ? `t<b>${t}</b>` : `t${t}`;
      tasks.set(taskId, { taskId, axis: { timepoint: String(t) }, status: t === 4 ? 'error' : 'ok', error: t === 4 ? serializeError(new Error(HOSTILE)) : undefined, seconds: 1, images: 3, outputs: [], measurements: [] });
    }
    const doc: RunDocument = { plate: { root: '/p', format: 'pattern', components: { timepoint: [] } }, axis: 'timepoint', totals: totalsOf(tasks, 10), tasks: Object.fromEntries(tasks) };
    const map = buildPlateMap(doc);
    expect(map.layout).toBe('tasks');
    expect(map.cells).toHaveLength(10);
    const html = renderReport(doc, { generatedAt: at });
    expect(html.match(/data-task="/g)!.length).toBe(10 + 1); // cells + the problems row
    expect(html).toContain('data-task="t&lt;b&gt;4&lt;/b&gt;"');
    expect(html).not.toContain('<b>4');
    expect(html).toContain('This run did not record per-step timings.');
  });
});

describe('helpers', () => {
  it('sums counts and averages everything else', () => {
    expect(['object_count', 'label_count', 'area', 'n_objects'].map(aggregationOf)).toEqual(['sum', 'sum', 'sum', 'sum']);
    expect(['mean', 'otsu_threshold', 'max', 'countess'].map(aggregationOf)).toEqual(['mean', 'mean', 'mean', 'mean']);
  });

  it('embeds JSON that cannot close its script element and parses back unchanged', () => {
    const value = { s: '</script><!-- \u2028 & >' };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual(value);
  });
});
