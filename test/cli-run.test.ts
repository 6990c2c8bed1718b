import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARRAYSCAN, REPO, STANDARD, cli, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let plate: string;

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  const synth = cli(['synth', plate, '--wells', '3', '--sites', '2', '--channels', '2', '--z', '3', '--size', '256', '--seed', '7']);
  expect(synth.code, synth.stderr).toBe(0);
});

describe('plateflow CLI on a synthetic plate', () => {
  it('inspect --json reports the format and naturally sorted components', () => {
    const r = cli(['inspect', plate, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJsonLine(r.stdout);
    expect(out.format).toBe('ImageXpress');
    expect(out.components).toMatchObject({ well: ['A01', 'A02', 'A03'], site: ['1', '2'], channel: ['1', '2'], z: ['1', '2', '3'] });
  });

  it('run --json writes projections, results.json and counts per image', async () => {
    const out = path.join(dir, 'out');
    const r = cli(['run', plate, '--pipeline', STANDARD, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJsonLine(r.stdout);
    expect(summary).toMatchObject({ tasks: 3, ok: 3, failed: 0, images: 36 });
    // The run's tree-wide peak, as results.json records it.
    expect(summary.peakRss).toMatchObject({ treeBytes: expect.any(Number), largestProcessBytes: expect.any(Number) });
    const measurements = summary.measurements as Record<string, { object_count?: number }>;
    const counted = Object.entries(measurements).filter(([, m]) => m.object_count !== undefined);
    expect(counted.map(([k]) => k).sort()).toEqual(['A01', 'A02', 'A03'].flatMap((w) => [1, 2].map((s) => `well-${w}_site-${s}_channel-1`)).sort());
    for (const [, m] of counted) expect(m.object_count).toBeGreaterThan(3);
    const projections = await readdir(path.join(out, '1_max_project_z'));
    expect(projections.sort()).toContain('well-A01_site-1_channel-2.tif');
    expect(projections).toHaveLength(12);
    const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'));
    expect(Object.keys(results.tasks)).toEqual(['A01', 'A02', 'A03']);
    expect(results.peakRss).toEqual(summary.peakRss);
    expect(await readFile(path.join(out, 'measurements.csv'), 'utf8')).toMatch(/^task,step,function,image,well,site,channel,timepoint,measurement,value\nA01,count_nuclei,otsu_threshold,well-A01_site-1_channel-1,A01,1,1,1,otsu_threshold,/);
    expect((await readdir(out)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('an output folder is itself a valid input plate', () => {
    const out = path.join(dir, 'out');
    const r = cli(['inspect', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = lastJsonLine(r.stdout);
    expect(info.format).toBe('plateflow');
    expect(info.components).toMatchObject({ well: ['A01', 'A02', 'A03'], site: ['1', '2'], channel: ['1', '2'] });
    const again = cli(['run', out, '--pipeline', STANDARD, '--out', path.join(dir, 'out2'), '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(lastJsonLine(again.stdout)).toMatchObject({ tasks: 3, ok: 3, images: 12 });
  });

  it('runs along a tuple axis (well, site)', () => {
    const r = cli(['run', plate, '--pipeline', STANDARD, '--out', path.join(dir, 'out-tuple'), '--axis', 'well,site', '--variable', 'timepoint', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 6, ok: 6, images: 36 });
  });

  it('--only filters the axis values', () => {
    const r = cli(['run', plate, '--pipeline', STANDARD, '--out', path.join(dir, 'out-only'), '--only', 'A02', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 1, ok: 1, images: 12 });
  });

  it('prints a human summary with the task table', () => {
    const r = cli(['run', plate, '--pipeline', STANDARD, '--out', path.join(dir, 'out-human')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tasks\s+ok\s+resumed\s+failed/);
    expect(r.stderr).toMatch(/\[3\/3\] A0\d ok/);
  });
});

describe.skipIf(!existsSync(ARRAYSCAN))('plateflow CLI on the real ArrayScan sample', () => {
  it('inspect finds 24 wells × 3 sites × 1 channel', () => {
    const r = cli(['inspect', ARRAYSCAN, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = lastJsonLine(r.stdout);
    const components = info.components as Record<string, string[]>;
    expect(info.format).toBe('ArrayScan');
    expect(components.well).toHaveLength(24);
    expect(components.site).toHaveLength(3);
    expect(components.channel).toHaveLength(1);
  });

  it('run with the standard pipeline writes projections and the same counts as the Python reference', async () => {
    const out = path.join(dir, 'arrayscan-out');
    const r = cli(['run', ARRAYSCAN, '--pipeline', STANDARD, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJsonLine(r.stdout);
    expect(summary).toMatchObject({ format: 'ArrayScan', tasks: 24, ok: 24, images: 72 });
    const golden = JSON.parse(await readFile(path.join(REPO, 'test', 'fixtures', 'golden', 'arrayscan_counts.json'), 'utf8')) as { counts: Record<string, number> } | Record<string, number>;
    const expected = ('counts' in golden ? golden.counts : golden) as Record<string, number>;
    const measured: Record<string, number> = {};
    for (const [image, values] of Object.entries(summary.measurements as Record<string, { object_count?: number }>)) {
      const m = /^well-(\w+)_site-(\d+)/.exec(image);
      if (m && values.object_count !== undefined) measured[`${m[1]}_s${m[2]}`] = values.object_count;
    }
    expect(Object.keys(measured)).toHaveLength(72);
    expect(measured).toEqual(expected);
    expect(await readdir(path.join(out, '1_max_project_z'))).toHaveLength(72);
  });
});
