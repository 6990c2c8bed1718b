import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { soakResume } from '../scripts/soak-resume.mjs';
import { cli, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let plate: string;

interface ResultsDoc {
  tasks: Record<string, { status: string; resumed?: string; measurements: unknown[] }>;
}

async function results(out: string): Promise<ResultsDoc> {
  return JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as ResultsDoc;
}

async function pipeline(name: string, sigma: number): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    JSON.stringify({
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
        { name: 'blur', func: { '#1': [['gaussian_blur', { sigma }]] }, backend: 'disk' },
        { name: 'count', func: { '#1': ['otsu_threshold', 'label', ['count_objects', { min_size: 20 }]] }, backend: 'memory' },
      ],
    }),
  );
  return file;
}

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '3', '--sites', '1', '--channels', '2', '--z', '2', '--size', '128']).code).toBe(0);
});

describe('checkpoints and resume', () => {
  it('a second identical run reuses every finished task and reports the same measurements', async () => {
    const out = path.join(dir, 'same');
    const p = await pipeline('p1.json', 2);
    const first = cli(['run', plate, '-p', p, '-o', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const second = cli(['run', plate, '-p', p, '-o', out, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['task', 'task', 'task']);
    expect(lastJsonLine(second.stdout).measurements).toEqual(lastJsonLine(first.stdout).measurements);
  });

  it('changing one step\'s kwargs recomputes that step and the ones after it, not the ones before', async () => {
    const out = path.join(dir, 'changed');
    expect(cli(['run', plate, '-p', await pipeline('a.json', 2), '-o', out]).code).toBe(0);
    const r = cli(['run', plate, '-p', await pipeline('b.json', 3), '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    for (const task of Object.values((await results(out)).tasks)) expect(task.resumed).toBe('project');
  });

  it('--force, --from-step and --to-step', async () => {
    const out = path.join(dir, 'flags');
    const p = await pipeline('c.json', 2);
    const partial = cli(['run', plate, '-p', p, '-o', out, '--to-step', '1', '--json']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(lastJsonLine(partial.stdout).measurements).toEqual({});
    const rest = cli(['run', plate, '-p', p, '-o', out, '--json']);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['project', 'project', 'project']);
    expect(Object.keys(lastJsonLine(rest.stdout).measurements as object)).toHaveLength(3);
    expect(cli(['run', plate, '-p', p, '-o', out, '--from-step', 'blur']).code).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual(['project', 'project', 'project']);
    expect(cli(['run', plate, '-p', p, '-o', out, '--force']).code).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual([undefined, undefined, undefined]);
    const bad = cli(['run', plate, '-p', p, '-o', out, '--from-step', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from-step "nope" names no step; steps are 1 "project", 2 "blur", 3 "count"/);
  });

  it('another plate run into the same output folder reuses nothing of the first', async () => {
    const out = path.join(dir, 'two-plates');
    const other = path.join(dir, 'other-plate');
    expect(cli(['synth', other, '--wells', '3', '--sites', '1', '--channels', '2', '--z', '2', '--size', '128', '--seed', '9']).code).toBe(0);
    const p = await pipeline('two.json', 2);
    expect(cli(['run', plate, '-p', p, '-o', out]).code).toBe(0);
    const second = cli(['run', other, '-p', p, '-o', out, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(Object.values((await results(out)).tasks).map((t) => t.resumed)).toEqual([undefined, undefined, undefined]);
    const fresh = cli(['run', other, '-p', p, '-o', path.join(dir, 'other-fresh'), '--json']);
    expect(lastJsonLine(second.stdout).measurements).toEqual(lastJsonLine(fresh.stdout).measurements);
  });

  it('--memory-debug records RSS per task and per step', async () => {
    const out = path.join(dir, 'memory');
    expect(cli(['run', plate, '-p', await pipeline('m.json', 2), '-o', out, '--memory-debug', '--executor', 'processes', '--workers', '2']).code).toBe(0);
    const doc = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as { tasks: Record<string, { peakRssBytes?: number; steps: { name: string; peakRssBytes?: number; rssEndBytes?: number }[] }> };
    for (const task of Object.values(doc.tasks)) {
      expect(task.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(task.steps.map((s) => s.name)).toEqual(['project', 'blur', 'count']);
      for (const s of task.steps) {
        expect(s.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
        expect(s.rssEndBytes).toBeGreaterThan(10 * 1024 * 1024);
        expect(s.peakRssBytes!).toBeGreaterThanOrEqual(s.rssEndBytes! * 0.5);
      }
    }
  });

  it('survives kill -9 at random moments: resumed outputs equal a clean run byte for byte', async () => {
    const result = await soakResume({ kills: 4, seed: 3, wells: 6 });
    expect(result.kills).toBe(4);
    expect(result.files).toBeGreaterThan(20);
    expect(result.mismatched).toEqual([]);
  }, 120_000);
});
