import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, STANDARD, cli, lastJsonLine, tempDir } from './helpers.js';

const PEERS = path.resolve(REPO, '..', 'shared', 'peers');
const PYTHON = '/usr/bin/python3';
const canMakePlates = existsSync(path.join(PEERS, 'make_plate.py')) && spawnSync(PYTHON, ['-c', 'import numpy, tifffile'], { stdio: 'ignore' }).status === 0;
if (!canMakePlates) console.warn('skipping the synthetic-plate golden test: needs ../shared/peers and python3 with numpy + tifffile');

describe.skipIf(!canMakePlates)('the standard pipeline on the reference plate', () => {
  it('counts objects exactly as the Python peer does, for every (well, site)', async () => {
    const dir = await tempDir();
    const plate = path.join(dir, 'plate');
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const made = spawnSync(PYTHON, [path.join(PEERS, 'make_plate.py'), plate, '--wells', '4', '--sites', '4', '--channels', '2', '--z', '3', '--size', '512', '--seed', '1'], { encoding: 'utf8', env });
    expect(made.status, made.stderr).toBe(0);
    const r = cli(['run', plate, '--pipeline', STANDARD, '--out', path.join(dir, 'out'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const measured: Record<string, number> = {};
    for (const [image, values] of Object.entries(lastJsonLine(r.stdout).measurements as Record<string, { object_count?: number }>)) {
      const m = /^well-(\w+)_site-(\d+)_channel-1$/.exec(image);
      if (m && values.object_count !== undefined) measured[`${m[1]}_s${m[2]}`] = values.object_count;
    }
    const golden = JSON.parse(await readFile(path.join(REPO, 'test', 'fixtures', 'golden', 'synthetic_counts.json'), 'utf8')) as { counts: Record<string, number> };
    expect(measured).toEqual(golden.counts);
  });
});
