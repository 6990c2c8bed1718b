import type { ChildProcess } from 'node:child_process';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFileOwner } from '../src/storage/atomic.js';
import { hostTag, mayBeWriter, processInfo } from '../src/storage/process-liveness.js';
import { sweepStaleTempFiles } from '../src/storage/stale-temp.js';
import { deadPid, spawnLive, spawnZombie, stop, type Zombie } from './fixtures/storage/processes.js';
import { cli, tempDir } from './helpers.js';

const HERE = hostTag();
const HOUR_MS = 60 * 60 * 1000;

/** A temp name as atomic.ts writes it, for any writer. */
const temp = (base: string, pid: number, host = HERE, thread = 0): string => `.${base}.${pid}@${host}.${thread}.0123456789ab.tmp`;
/** The format before host names, still produced by older versions' leftovers. */
const legacyTemp = (base: string, pid: number): string => `.${base}.${pid}.0.0123456789ab.tmp`;

async function folder(name: string, files: Record<string, number /* age in ms */>): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  for (const [file, ageMs] of Object.entries(files)) {
    const full = path.join(dir, file);
    await writeFile(full, 'partial');
    if (ageMs > 0) {
      const when = new Date(Date.now() - ageMs);
      await utimes(full, when, when);
    }
  }
  return dir;
}

const names = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true })).map(String).filter((f) => f.endsWith('.tmp')).sort();

let root: string;
let zombie: Zombie;
let live: ChildProcess;
let dead: number;

beforeAll(async () => {
  root = await tempDir('plateflow-stale-temp-');
  [zombie, live, dead] = await Promise.all([spawnZombie(), spawnLive(), deadPid()]);
});
afterAll(async () => {
  await Promise.all([zombie && stop(zombie.parent), live && stop(live)]);
});

describe.skipIf(process.platform !== 'linux')('process liveness from /proc', () => {
  it('sees a zombie as dead, though kill(pid, 0) still answers for it', () => {
    expect(() => process.kill(zombie.pid, 0)).not.toThrow();
    expect(processInfo(zombie.pid)).toBeUndefined();
    expect(mayBeWriter(zombie.pid)).toBe(false);
  });

  it('sees a live process as a writer of files written after it started, not of older ones', () => {
    const info = processInfo(live.pid!)!;
    expect(info.startedAtMs).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(mayBeWriter(live.pid!, Date.now())).toBe(true);
    expect(mayBeWriter(live.pid!, Date.now() - HOUR_MS)).toBe(false);
    expect(mayBeWriter(dead)).toBe(false);
  });
});

describe.skipIf(process.platform !== 'linux')('sweepStaleTempFiles', () => {
  it("removes a zombie's temp files, in both name formats", async () => {
    const dir = await folder('zombie', { [temp('a.tif', zombie.pid)]: 0, [`sub/${legacyTemp('b.tif', zombie.pid)}`]: 0 });
    const sweep = await sweepStaleTempFiles(dir);
    expect(sweep.removed.map((f) => path.relative(dir, f)).sort()).toEqual([temp('a.tif', zombie.pid), `sub/${legacyTemp('b.tif', zombie.pid)}`].sort());
    expect(await names(dir)).toEqual([]);
  });

  it('removes the temp file of a reused pid (a live process that started after the file was written), keeps a live writer\'s', async () => {
    const reused = temp('old.tif', live.pid!);
    const writing = `sub/${temp('new.tif', live.pid!)}`;
    const dir = await folder('reused', { [reused]: HOUR_MS, [writing]: 0, [legacyTemp('older.tif', live.pid!)]: HOUR_MS });
    const sweep = await sweepStaleTempFiles(dir);
    expect(sweep.removed.map((f) => path.relative(dir, f)).sort()).toEqual([legacyTemp('older.tif', live.pid!), reused].sort());
    expect(await names(dir)).toEqual([writing]);
  });

  it("never judges another host's temp files by pid: keeps and reports them, removes them only after a day", async () => {
    const fresh = temp('a.tif', dead, 'node-17');
    const old = temp('b.tif', dead, 'node-17');
    const dir = await folder('other-host', { [fresh]: 0, [old]: 25 * HOUR_MS, [temp('c.tif', dead)]: 0 });
    const sweep = await sweepStaleTempFiles(dir);
    expect(sweep.removed.map((f) => path.basename(f)).sort()).toEqual([old, temp('c.tif', dead)].sort());
    expect(sweep.otherHosts).toEqual([{ path: path.join(dir, fresh), host: 'node-17', pid: dead, mtimeMs: expect.any(Number) }]);
    expect(await names(dir)).toEqual([fresh]);
    // The age limit is the caller's to choose.
    expect((await sweepStaleTempFiles(dir, { otherHostMaxAgeMs: Infinity })).otherHosts).toHaveLength(1);
  });

  it("leaves this process's own temp files (writes in flight) unless asked, then removes them from any thread", async () => {
    const mine = [temp('a.tif', process.pid, HERE, threadId), `sub/${temp('b.tif', process.pid, HERE, threadId + 7)}`, legacyTemp('c.tif', process.pid)];
    const dir = await folder('own', Object.fromEntries(mine.map((f) => [f, 0])));
    expect((await sweepStaleTempFiles(dir)).removed).toEqual([]);
    expect(await names(dir)).toEqual([...mine].sort());
    const sweep = await sweepStaleTempFiles(dir, { includeOwn: true });
    expect(sweep.removed).toHaveLength(3);
    expect(await names(dir)).toEqual([]);
  });

  it('touches nothing that is not a temp file of ours, and sweeps a missing folder as empty', async () => {
    const dir = await folder('others', { 'out.tif': HOUR_MS, '.hidden.tmp': HOUR_MS, [`.x.tif.${dead}.0.abc.tmp`]: HOUR_MS });
    expect(await sweepStaleTempFiles(dir)).toEqual({ removed: [], otherHosts: [] });
    expect((await readdir(dir)).sort()).toEqual([`.x.tif.${dead}.0.abc.tmp`, '.hidden.tmp', 'out.tif', 'sub'].sort());
    expect(await sweepStaleTempFiles(path.join(dir, 'missing'))).toEqual({ removed: [], otherHosts: [] });
  });
});

describe.skipIf(process.platform !== 'linux')('a resumed run', () => {
  it("removes the temp files a killed writer left, though its pid is a zombie; another host's stay", async () => {
    const plate = path.join(root, 'plate');
    const out = path.join(root, 'plate-out');
    expect(cli(['synth', plate, '--wells', '2', '--sites', '1', '--channels', '1', '--z', '2', '--size', '64']).code).toBe(0);
    const pipeline = path.join(root, 'pipeline.json');
    await writeFile(pipeline, JSON.stringify({ steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' }] }));
    // The first run did only A01 (as if killed before A02): the resume has work left.
    expect(cli(['run', plate, '-p', pipeline, '-o', out, '--only', 'A01']).code).toBe(0);
    const step = (await readdir(out)).find((f) => f.startsWith('1_'))!;
    const litter = [path.join(step, temp('well-A01_site-1_channel-1.tif', zombie.pid)), path.join('.plateflow', legacyTemp('A01.json', zombie.pid))];
    const remote = path.join(step, temp('well-A02_site-1_channel-1.tif', zombie.pid, 'node-17'));
    for (const f of [...litter, remote]) await writeFile(path.join(out, f), 'partial');
    const rerun = cli(['run', plate, '-p', pipeline, '-o', out]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await names(out)).toEqual([remote]);
  });
});

describe('tempFileOwner', () => {
  it('reads host and pid from a temp name, and takes names of the older format for this host', () => {
    expect(tempFileOwner(temp('a.tif', 42, 'gpu-node-3'))).toEqual({ pid: 42, host: 'gpu-node-3' });
    expect(tempFileOwner(temp('plate.1.tif', 42, '12345'))).toEqual({ pid: 42, host: '12345' });
    expect(tempFileOwner(legacyTemp('a.1.tif', 42))).toEqual({ pid: 42, host: HERE });
    expect(tempFileOwner('a.tif')).toBeUndefined();
  });
});
