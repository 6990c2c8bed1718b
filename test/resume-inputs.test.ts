import { cp, readFile, readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../dist/execution/coordinator.js';
import { createExecutor } from '../dist/execution/executors/create.js';
import { discoverPlate } from '../dist/microscopes/discover.js';
import { loadPipelineFile } from '../dist/pipeline/load.js';
import { totalsOf } from '../dist/report/results.js';
import { runPlate, type PlateRun } from '../dist/run/run-plate.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import { cli, STANDARD, tempDir } from './helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
});

/** A 3-well plate, and a same-shaped plate with other pixels (another seed) to swap wells in from. */
async function plates(name: string): Promise<{ plate: string; other: string }> {
  const plate = path.join(dir, name, 'plate');
  const other = path.join(dir, name, 'other');
  await synthesizePlate(plate, { wells: 3, sites: 1, channels: 1, z: 2, size: 96, seed: 11 });
  await synthesizePlate(other, { wells: 3, sites: 1, channels: 1, z: 2, size: 96, seed: 29 });
  return { plate, other };
}

/** Replaces well A01's files of `plate` by those of `other`, as a re-acquisition would. */
async function reacquireA01(plate: string, other: string): Promise<void> {
  for (const file of await filesOf(other)) if (path.basename(file).startsWith('A01_')) await cp(file, path.join(plate, path.relative(other, file)));
}

async function filesOf(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  return out;
}

const serial = () => createExecutor('serial');

async function run(plate: string, out: string, extra: Parameters<typeof runPlate>[1] extends infer O ? Partial<O> : never = {}): Promise<PlateRun> {
  const executor = serial();
  try {
    return await runPlate(plate, { pipeline: STANDARD, out, executor, ...extra });
  } finally {
    await executor.close();
  }
}

const resumedOf = (r: PlateRun) => Object.fromEntries([...r.outcome.results].map(([id, t]) => [id, t.resumed ?? 'computed']));

describe('resume and changed inputs', () => {
  it('a replaced input recomputes its task (and only it): the result equals a fresh run on the new data', async () => {
    const { plate, other } = await plates('replaced');
    const out = path.join(dir, 'replaced', 'out');
    const before = await run(plate, out);
    await reacquireA01(plate, other);
    const after = await run(plate, out);
    expect(resumedOf(after)).toEqual({ A01: 'computed', A02: 'task', A03: 'task' });
    expect(after.totals).toMatchObject({ tasks: 3, ok: 1, resumed: 2 });

    const fresh = await run(plate, path.join(dir, 'replaced', 'fresh'));
    expect(after.measurements).toEqual(fresh.measurements);
    const a01 = (r: PlateRun) => Object.entries(r.measurements).filter(([image]) => image.includes('well-A01'));
    expect(a01(after)).not.toEqual(a01(before));
    // The image on disk is the new one too.
    const projection = 'well-A01_site-1_channel-1.tif';
    expect(await readFile(path.join(out, '1_max_project_z', projection))).toEqual(await readFile(path.join(dir, 'replaced', 'fresh', '1_max_project_z', projection)));
  });

  it('a touched input counts as changed by default; with --verify-inputs only changed bytes do', async () => {
    const { plate, other } = await plates('touched');
    const out = path.join(dir, 'touched', 'out');
    await run(plate, out, { checkpoints: { verifyInputs: true } });
    const a02 = (await filesOf(plate)).filter((f) => path.basename(f).startsWith('A02_'));
    const later = new Date(Date.now() + 60_000);
    for (const f of a02) await utimes(f, later, later);

    // Same bytes, new mtime: verified by content, nothing to do.
    const verified = await run(plate, out, { checkpoints: { verifyInputs: true } });
    expect(resumedOf(verified)).toEqual({ A01: 'task', A02: 'task', A03: 'task' });
    await reacquireA01(plate, other);
    const changed = await run(plate, out, { checkpoints: { verifyInputs: true } });
    expect(resumedOf(changed)).toEqual({ A01: 'computed', A02: 'task', A03: 'task' });

    // By size, mtime and inode (the default), the touched well is recomputed.
    const out2 = path.join(dir, 'touched', 'out-stat');
    await run(plate, out2);
    for (const f of a02) await utimes(f, new Date(Date.now() + 120_000), new Date(Date.now() + 120_000));
    expect(resumedOf(await run(plate, out2))).toEqual({ A01: 'task', A02: 'computed', A03: 'task' });
  });

  it('the preflight counts only the tasks and disk steps still to run', async () => {
    const { plate } = await plates('preflight');
    const out = path.join(dir, 'preflight', 'out');
    // Measure a fresh run's estimate, then offer 60 % of it as free disk.
    const probe = await run(plate, path.join(dir, 'preflight', 'probe'), { preflight: { workers: 1 } });
    expect(probe.totals.ok).toBe(3);
    const inputBytes = (await filesOf(plate)).reduce(async (n, f) => (await n) + (await readFile(f)).length, Promise.resolve(0));
    const fullNeed = (await inputBytes) * 2; // one disk step, × 2 for a float output
    const diskAvailableBytes = Math.floor(fullNeed * 0.6);
    await expect(run(plate, out, { preflight: { workers: 1, diskAvailableBytes } })).rejects.toMatchObject({ code: 'E_RESOURCE' });
    // Two of the three wells done: what is left fits.
    await run(plate, out, { axisFilter: 'A01,A02' });
    const resumed = await run(plate, out, { preflight: { workers: 1, diskAvailableBytes } });
    expect(resumedOf(resumed)).toEqual({ A01: 'task', A02: 'task', A03: 'computed' });
  });
});

describe('a resumed run is not work', () => {
  it('a checkpoint a worker finds during the run is its own earlier attempt\'s (computed), unless inputs are verified by the workers (resumed)', async () => {
    const { plate } = await plates('own-attempt');
    for (const verifyInputs of [false, true]) {
      const out = path.join(dir, 'own-attempt', `out-${verifyInputs}`);
      await run(plate, out, { checkpoints: { verifyInputs } });
      const coordinator = new Coordinator({ plate: await discoverPlate(plate), pipeline: await loadPipelineFile(STANDARD).then((l) => l.definition), out, checkpoints: { verifyInputs } });
      const tasks = await coordinator.createTasks();
      const executor = serial();
      // Straight to the workers, as a retry or a second execution of a job would be.
      const outcome = await coordinator.execute(tasks, executor).finally(() => executor.close());
      const totals = totalsOf(outcome.results, outcome.seconds);
      expect(totals, `verifyInputs ${verifyInputs}`).toMatchObject(verifyInputs ? { ok: 0, resumed: 3 } : { ok: 3, resumed: 0 });
    }
  });

  it('subprocess: a finished plate resumes without starting any process, and shows the tasks as resumed, apart from computed ones', async () => {
    const { plate } = await plates('subprocess');
    const out = path.join(dir, 'subprocess', 'out');
    expect(cli(['run', plate, '-p', STANDARD, '-o', out, '--executor', 'subprocess', '--quiet']).code).toBe(0);
    const again = cli(['run', plate, '-p', STANDARD, '-o', out, '--executor', 'subprocess', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const events = again.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string; resumed?: string });
    expect(events.filter((e) => e.type === 'task:start')).toEqual([]);
    expect(events.filter((e) => e.type === 'task:done').map((e) => e.resumed)).toEqual(['task', 'task', 'task']);
    const summary = JSON.parse(again.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(summary).toMatchObject({ tasks: 3, ok: 0, resumed: 3, images: 0, imagesPerSecond: 0 });

    const human = cli(['run', plate, '-p', STANDARD, '-o', out, '--executor', 'subprocess']);
    expect(human.stdout).toMatch(/tasks\s+ok\s+resumed[\s\S]*\n\s+3\s+0\s+3\s+0\s+0\s+0\s/);
    expect(human.stdout).toContain('No problems: all 3 tasks ok (all resumed from an earlier run: nothing to compute).');
    const report = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(report).toContain('resumed (3)');
  });
});

// Keep the helper honest: the fixture plates really differ where the test swaps them.
it('the replacement pixels differ from the originals', async () => {
  const { plate, other } = await plates('differ');
  const [a] = (await filesOf(plate)).filter((f) => path.basename(f).startsWith('A01_'));
  const b = path.join(other, path.relative(plate, a!));
  expect(await readFile(a!)).not.toEqual(await readFile(b));
});
