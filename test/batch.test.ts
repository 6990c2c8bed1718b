import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../src/run/run-batch.js';
import { expandPlateArguments, plateOutputNames } from '../src/run/plates.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { createExecutor } from '../dist/execution/executors/create.js';
import { availableCpus } from '../dist/execution/resources/cpus.js';
import { runBatch as runBatchBuilt } from '../dist/run/run-batch.js';
import { ARRAYSCAN, REPO, STANDARD, tempDir, writePipeline } from './helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  for (const [i, name] of ['plate_1', 'plate_2', 'plate_3'].entries()) {
    await synthesizePlate(path.join(dir, 'plates', name), { wells: 2, sites: 1, channels: i === 2 ? 1 : 2, z: 2, size: 96, seed: i + 1 });
  }
});

describe('batch', () => {
  it('expands globs naturally and names outputs uniquely', async () => {
    expect((await expandPlateArguments([path.join(dir, 'plates', 'plate_*')])).map((p) => path.basename(p))).toEqual(['plate_1', 'plate_2', 'plate_3']);
    expect(plateOutputNames(['/a/x', '/b/x', '/c/y'])).toEqual(['a_x', 'b_x', 'y']);
    // Stable whatever the order, and deep enough to tell nested same-named plates apart.
    expect(plateOutputNames(['/c/y', '/b/x', '/a/x'])).toEqual(['y', 'b_x', 'a_x']);
    expect(plateOutputNames(['/r/a/p', '/a/p', '/s/p'])).toEqual(['r_a_p', 'a_p', 's_p']);
    // Names that clean up to the same folder name get a hash of their path.
    expect(plateOutputNames(['/d/p q', '/d/p_q'])).toEqual([expect.stringMatching(/^p_q-[0-9a-f]{8}$/), expect.stringMatching(/^p_q-[0-9a-f]{8}$/)]);
    expect(new Set(plateOutputNames(['/d/p q', '/d/p_q'])).size).toBe(2);
  });

  it('a glob that also matches the batch\'s own output folder leaves it out', async () => {
    const root = path.join(dir, 'glob-with-out');
    await synthesizePlate(path.join(root, 'p1'), { wells: 1, sites: 1, channels: 1, z: 1, size: 32, seed: 1 });
    const warnings: string[] = [];
    const first = await runBatch([path.join(root, '*')], { pipeline: STANDARD, out: path.join(root, 'out'), warn: (m) => warnings.push(m) });
    expect(first.runs.map((r) => r.name)).toEqual(['p1']);
    // Now out/ exists and matches the glob: it is still not a plate.
    const again = await runBatch([path.join(root, '*')], { pipeline: STANDARD, out: path.join(root, 'out'), warn: (m) => warnings.push(m) });
    expect(again.runs.map((r) => r.name)).toEqual(['p1']);
    expect(warnings.join('\n')).toMatch(/not a plate: .*glob-with-out\/out is this batch's output folder/);
  });

  it('strict: lists every missing plate and channel at once, before any work', async () => {
    const out = path.join(dir, 'strict-out');
    const run = runBatch([path.join(dir, 'plates', 'plate_*'), path.join(dir, 'plates', 'missing')], { pipeline: STANDARD, out, channels: ['1', '2'] });
    await expect(run).rejects.toMatchObject({ code: 'E_PLATE_NOT_FOUND' });
    await expect(run).rejects.toThrowError(/2 requested plate\/channel pair\(s\) cannot be run:\n.*plate_3: channel 2 not found \(channels: 1\)\n.*missing: .*\n\(use --lenient/);
    expect(existsSync(out)).toBe(false);
  });

  it('lenient: runs what exists (plus the real ArrayScan sample when present) and reports what was skipped', async () => {
    const out = path.join(dir, 'lenient-out');
    const bad = path.join(dir, 'plates-bad', 'not-a-plate');
    await mkdir(bad, { recursive: true });
    await writeFile(path.join(bad, 'notes.txt'), 'no images here');
    const plates = [path.join(dir, 'plates', 'plate_*'), bad, ...(existsSync(ARRAYSCAN) ? [ARRAYSCAN] : [])];
    const warnings: string[] = [];
    const batch = await runBatch(plates, { pipeline: STANDARD, out, lenient: true, warn: (w) => warnings.push(w) });
    expect(batch.runs.map((r) => r.name)).toEqual(['plate_1', 'plate_2', 'plate_3', ...(existsSync(ARRAYSCAN) ? ['bbbc016-arrayscan'] : [])]);
    expect(batch.skipped).toEqual([{ plate: bad, reason: expect.stringMatching(/E?no image files|empty/i) }]);
    expect(warnings.join('\n')).toMatch(/skipped .*not-a-plate/);
    for (const r of batch.runs) expect(r.run.totals.failed).toBe(0);
    const results = JSON.parse(await readFile(batch.files!.results, 'utf8'));
    expect(results.plates).toHaveLength(batch.runs.length);
    expect(results.skipped).toHaveLength(1);
    expect(await readFile(batch.files!.report, 'utf8')).toMatch(/<html/);
    expect(existsSync(path.join(out, 'plate_2', '1_max_project_z'))).toBe(true);
  });
});

describe('batch: one queue across plates', () => {
  it.skipIf(availableCpus() < 2)('the next plate\'s tasks start while the previous plate\'s last task still runs', async () => {
    const root = path.join(dir, 'overlap');
    for (const name of ['first', 'second']) await synthesizePlate(path.join(root, name), { wells: 2, sites: 1, channels: 1, z: 1, size: 32, seed: 3 });
    const announce = path.join(root, 'announce');
    await mkdir(announce);
    const release = path.join(root, 'release');
    const pipeline = await writePipeline(path.join(root, 'hold.json'), {
      modules: [path.join(REPO, 'test', 'fixtures', 'steps', 'wait-for-file.mjs')],
      steps: [{ name: 'hold', func: [['wait_for_file', { well: 'A01', announce, release }]], backend: 'disk' }],
    });
    // Only the first plate's A01 waits, and only until a task of the second plate has started.
    const order: string[] = [];
    const executor = createExecutor('threads', { workers: 2 });
    const deadline = setTimeout(() => void writeFile(release, ''), 60_000);
    // Real worker threads need the compiled library.
    const batch = await runBatchBuilt([path.join(root, 'first'), path.join(root, 'second')], {
      pipeline,
      out: path.join(root, 'out'),
      executor,
      onEvent: (event, plate) => {
        if (event.type === 'task:start') order.push(`${plate} ${event.taskId} start`);
        if (event.type === 'task:done') order.push(`${plate} ${event.result.taskId} done`);
        if (event.type === 'task:start' && plate === 'second' && !existsSync(release)) writeFileSync(release, '');
      },
    }).finally(async () => {
      clearTimeout(deadline);
      await executor.close();
    });
    expect(batch.runs.map((r) => [r.name, r.run.totals.ok])).toEqual([['first', 2], ['second', 2]]);
    expect(order.indexOf('second A01 start')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('second A01 start'), order.join('\n')).toBeLessThan(order.indexOf('first A01 done'));
  }, 120_000);
});

describe('plateflow batch (CLI)', () => {
  it('runs three synthetic plates plus the ArrayScan sample with one bad plate: progress, PROBLEMS, report.html, resume', async () => {
    const { cli } = await import('./helpers.js');
    const { readFile: read, writeFile: write } = await import('node:fs/promises');
    const victim = path.join(dir, 'plates', 'plate_2', 'TimePoint_1', 'ZStep_1', 'A02_s1_w1.tif');
    await write(victim, (await read(victim)).subarray(0, 200));
    const out = path.join(dir, 'cli-batch');
    const plates = [path.join(dir, 'plates', 'plate_*'), ...(existsSync(ARRAYSCAN) ? [ARRAYSCAN] : [])];
    const r = cli(['batch', ...plates, '--pipeline', STANDARD, '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\[(plate_1 )?\d\/2\] A0\d ok/);
    expect(r.stderr).toMatch(/\[plate_3 \d\/2\] A0\d ok/);
    expect(r.stdout).toMatch(/PROBLEMS/);
    expect(r.stdout).toMatch(/plate_2.*A02.*error[\s\S]*A02_s1_w1\.tif: truncated/);
    expect(existsSync(path.join(out, 'report.html'))).toBe(true);
    const again = cli(['batch', ...plates, '--pipeline', STANDARD, '--out', out, '--json']);
    expect(again.code).toBe(1);
    const summary = JSON.parse(again.stdout.trim().split('\n').pop()!);
    expect(summary.plates.map((p: { name: string }) => p.name)).toEqual(['plate_1', 'plate_2', 'plate_3', ...(existsSync(ARRAYSCAN) ? ['bbbc016-arrayscan'] : [])]);
    const results = JSON.parse(await read(path.join(out, 'plate_1', 'results.json'), 'utf8'));
    expect(Object.values(results.tasks).map((t) => (t as { resumed?: string }).resumed)).toEqual(['task', 'task']);
  }, 120_000);
});
