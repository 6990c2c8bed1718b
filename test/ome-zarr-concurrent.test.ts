/**
 * Many writers adding positions to one plate at once — async callers in one process, and separate
 * processes (compiled build) — must never lose each other's plate or well entries.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { openOmeZarrPlate } from '../src/ome-zarr/plate-reader.js';
import { addPosition } from '../src/ome-zarr/plate-writer.js';
import { ZarrArray } from '../src/storage/zarr-array.js';
import { REPO, tempDir } from './helpers.js';

const root = await tempDir('plateflow-zarr-conc-');
const DIST = path.join(REPO, 'dist', 'ome-zarr', 'index.js');
const WRITER = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'add-position.mjs');

/** 8 positions: 3 fields in one well, 2 in another, and three wells of their own, over 4 rows. */
const POSITIONS = [
  ['A01', '0'],
  ['A01', '1'],
  ['A01', '2'],
  ['A02', '0'],
  ['B05', '0'],
  ['B05', '1'],
  ['C10', '0'],
  ['H12', '0'],
] as const;

async function checkPlate(plate: string): Promise<void> {
  const read = await openOmeZarrPlate(plate);
  expect(read.positions.map((p) => `${p.well}/${p.field}`).sort()).toEqual(POSITIONS.map(([w, f]) => `${w}/${f}`).sort());
  expect([...read.rows].sort()).toEqual(['A', 'B', 'C', 'H']);
  expect([...read.columns].sort()).toEqual(['1', '10', '12', '2', '5']);
  for (const [i, p] of read.positions.entries()) {
    const arr = await ZarrArray.open(path.join(plate, p.arrayPath));
    const value = POSITIONS.findIndex(([w, f]) => w === p.well && f === p.field) * 10;
    expect([...(await arr.readPlane([0, 0, 1]))], `position ${i}`).toEqual(new Array(16).fill(value + 1));
  }
  clearComponentCache();
  const discovered = await discoverPlate(plate);
  expect(discovered.images).toHaveLength(POSITIONS.length * 2);
  expect(discovered.components['well']).toEqual(['A01', 'A02', 'B05', 'C10', 'H12']);
}

describe.each(['0.4', '0.5'] as const)('NGFF %s: 8 concurrent position writers', (ngff) => {
  it('in one process (async)', async () => {
    const plate = path.join(root, `async-${ngff}.zarr`);
    await Promise.all(
      POSITIONS.map(async ([well, field], i) => {
        const arr = await addPosition(plate, { well, field, shape: { t: 1, c: 1, z: 2, y: 4, x: 4 }, dtype: 'uint16' }, { ngff });
        for (let z = 0; z < 2; z++) await arr.writePlane([0, 0, z], new Uint16Array(16).fill(i * 10 + z));
      }),
    );
    await checkPlate(plate);
  });

  it.skipIf(!existsSync(DIST))('in 8 processes', async () => {
    const plate = path.join(root, `procs-${ngff}.zarr`);
    const codes = await Promise.all(
      POSITIONS.map(
        ([well, field], i) =>
          new Promise<number | null>((resolve, reject) => {
            const child = spawn(process.execPath, [WRITER, DIST, plate, well, field, ngff, String(i * 10)], { stdio: ['ignore', 'inherit', 'inherit'] });
            child.on('error', reject);
            child.on('exit', (code) => resolve(code));
          }),
      ),
    );
    expect(codes).toEqual(new Array(POSITIONS.length).fill(0));
    await checkPlate(plate);
  });

  it('refuses to add a position twice or to mix NGFF versions', async () => {
    const plate = path.join(root, `dup-${ngff}.zarr`);
    const spec = { well: 'A01', field: '0', shape: { t: 1, c: 1, z: 1, y: 2, x: 2 }, dtype: 'uint8' as const };
    await addPosition(plate, spec, { ngff });
    await expect(addPosition(plate, spec, { ngff })).rejects.toMatchObject({ code: 'E_ZARR_INVALID', message: expect.stringMatching(/exists already/) });
    await expect(addPosition(plate, { ...spec, field: '1' }, { ngff: ngff === '0.4' ? '0.5' : '0.4' })).rejects.toMatchObject({ code: 'E_ZARR_INVALID' });
  });
});
