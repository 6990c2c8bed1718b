/**
 * Resume after kill -9: a child process runs processPosition (compiled build) and is SIGKILLed at
 * a random moment; a resumed run must skip the units marked done, redo the one(s) in progress, and
 * end with exactly the output of an uninterrupted run — no torn chunk, no stray temp file.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as OmeZarr from '../src/ome-zarr/index.js';
import type * as ZarrArrayModule from '../src/storage/zarr-array.js';
import { REPO, tempDir } from './helpers.js';

const DIST = path.join(REPO, 'dist', 'ome-zarr', 'index.js');
const built = existsSync(DIST);
if (!built) console.warn(`skipping the kill -9 resume test: ${DIST} is missing (run npm run build)`);
const oz = (built ? await import(DIST) : undefined) as typeof OmeZarr;
const za = (built ? await import(path.join(REPO, 'dist', 'storage', 'zarr-array.js')) : undefined) as typeof ZarrArrayModule;
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'multiply.mjs');
const RUNNER = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'run-position.mjs');
const root = await tempDir('plateflow-zarr-resume-');
const shape = { t: 6, c: 2, z: 3, y: 48, x: 40 };
const UNITS = shape.t * shape.c;
const MS = 40;

/** A seeded generator, so a failure can be replayed: the seed is in the test name. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function makePlate(name: string) {
  const dir = path.join(root, name);
  const writer = await oz.OmeZarrPlateWriter.create(dir, [
    { well: 'A01', field: '0', shape, dtype: 'uint16' },
    { well: 'A01', field: '1', shape, dtype: 'uint16' },
  ]);
  for (let t = 0; t < shape.t; t++) {
    for (let c = 0; c < shape.c; c++) {
      for (let z = 0; z < shape.z; z++) {
        const data = new Uint16Array(shape.y * shape.x);
        for (let i = 0; i < data.length; i++) data[i] = 1 + ((i * 31 + t * 101 + c * 7 + z * 13) % 20000);
        await writer.writePlane('A01', '0', { t, c, z }, data);
      }
    }
  }
  return { input: path.join(dir, 'A/1/0'), output: path.join(dir, 'A/1/1') };
}

async function snapshot(output: string): Promise<number[]> {
  const arr = await za.ZarrArray.open(path.join(output, '0'));
  const all: number[] = [];
  for (let p = 0; p < arr.planeCount; p++) all.push(...(await arr.readPlane(arr.planeCoords(p))));
  return all;
}

/** Runs the child until it has reported `afterUnits` units (plus a random delay), then SIGKILLs it. */
function runAndKill(input: string, output: string, executor: string, workers: number, afterUnits: number, delayMs: number): Promise<{ reported: number; finished: boolean; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, DIST, FIXTURE, input, output, String(workers), executor === 'serial' ? 'threads' : executor, '0', String(MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    let finished = false;
    let armed = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    if (afterUnits === 0) arm();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (line.startsWith('unit ')) reported++;
        if (line.startsWith('finished')) finished = true;
      }
      if (reported >= afterUnits) arm();
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ reported, finished, signal }));
  });
}

describe.skipIf(!built)('kill -9, then resume', () => {
  let reference: number[] | undefined;
  let redone = 0;
  // The kills land mid-unit often enough that the redo path is exercised, not just the skip path.
  afterAll(() => expect(redone).toBeGreaterThan(0));

  it.each([
    ['serial', 1, 11],
    ['serial', 1, 12],
    ['threads', 2, 13],
    ['threads', 2, 14],
    ['serial', 1, 15],
  ] as const)('%s (%i worker) seed %i: same output as an uninterrupted run', async (executor, workers, seed) => {
    if (!reference) {
      const clean = await makePlate('reference.zarr');
      const r = await oz.processPosition({ module: FIXTURE, export: 'slowMultiply' }, clean.input, clean.output, { kwargs: { k: 3, ms: 0 } });
      expect(r.processed).toBe(UNITS);
      reference = await snapshot(clean.output);
    }
    const random = rng(seed);
    const p = await makePlate(`killed-${seed}.zarr`);
    const afterUnits = 1 + Math.floor(random() * (UNITS - 3));
    const killed = await runAndKill(p.input, p.output, executor, workers, afterUnits, Math.floor(random() * MS * 1.5));
    expect(killed).toMatchObject({ finished: false, signal: 'SIGKILL' });

    const markers = await readdir(path.join(p.output, oz.MARKER_DIR));
    const doneIds = new Set(markers.filter((m) => m.endsWith('.done')).map((m) => m.replace('.done', '')));
    const done = doneIds.size;
    // Killed between a unit's `.done` and the removal of its `.inprogress`: both exist, and it is done.
    const started = markers.filter((m) => m.endsWith('.inprogress')).map((m) => m.replace('.inprogress', ''));
    const inProgress = started.filter((id) => !doneIds.has(id));
    const committed = started.filter((id) => doneIds.has(id));
    expect(done).toBeGreaterThanOrEqual(killed.reported);
    expect(done).toBeLessThan(UNITS);

    const statuses = new Map<string, string>();
    const resumed = await oz.processPosition({ module: FIXTURE, export: 'slowMultiply' }, p.input, p.output, {
      kwargs: { k: 3, ms: MS },
      resume: true,
      onUnit: (u) => statuses.set(oz.unitId(u.unit), u.status),
    });
    expect(resumed.alreadyDone).toBe(done);
    expect(resumed.processed).toBe(UNITS - done);
    for (const id of inProgress) expect(statuses.get(id)).toBe('done'); // redone, not trusted
    for (const id of committed) expect(statuses.get(id)).toBe('already-done');
    redone += inProgress.length;
    expect(await snapshot(p.output)).toEqual(reference);

    const leftovers = (await readdir(p.output, { recursive: true })).filter((f) => f.endsWith('.tmp') || f.endsWith('.inprogress'));
    expect(leftovers).toEqual([]);
  });
});

describe.skipIf(!built)('a unit killed between its .done and the removal of its .inprogress', () => {
  it('is done on resume, and its stale .inprogress goes', async () => {
    const p = await makePlate('both-markers.zarr');
    const target = { module: FIXTURE, export: 'slowMultiply' };
    await oz.processPosition(target, p.input, p.output, { kwargs: { k: 3, ms: 0 } });
    const dir = path.join(p.output, oz.MARKER_DIR);
    const done = (await readdir(dir)).filter((m) => m.endsWith('.done'));
    expect(done).toHaveLength(UNITS);
    // What the kill leaves: the commit point written, the in-progress marker not yet removed.
    const twice = done.slice(0, 2).map((m) => m.replace('.done', ''));
    for (const id of twice) await writeFile(path.join(dir, `${id}.inprogress`), '{}');
    const statuses = new Map<string, string>();
    const resumed = await oz.processPosition(target, p.input, p.output, { kwargs: { k: 3, ms: 0 }, resume: true, onUnit: (u) => statuses.set(oz.unitId(u.unit), u.status) });
    expect(resumed.alreadyDone).toBe(UNITS);
    for (const id of twice) expect(statuses.get(id)).toBe('already-done');
    expect((await readdir(dir)).filter((m) => m.endsWith('.inprogress'))).toEqual([]);
  });
});
