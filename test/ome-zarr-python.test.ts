/**
 * Interoperability with the Python stack: zarr-python 2 (Debian python3-zarr) reads our NGFF 0.4
 * plates, we read plates it writes (Blosc, Zstd, '.' chunk keys), and a spec-following decoder
 * with only json + gzip + numpy reads our NGFF 0.5 (zarr v3) plates. Skips without python3-zarr.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/image.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { OmeZarrPlateWriter } from '../src/ome-zarr/plate-writer.js';
import { arrayHashes } from './ome-zarr-hashes.js';
import { REPO, tempDir } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(REPO, 'test', 'fixtures', 'ome-zarr', 'interop.py');
const probe = spawnSync(PYTHON, ['-c', 'import zarr, numpy; print(zarr.__version__)'], { encoding: 'utf8' });
const hasZarr = probe.status === 0;
if (!hasZarr) console.warn('skipping Python interoperability tests: /usr/bin/python3 cannot import zarr (apt install python3-zarr)');
const root = await tempDir('plateflow-zarr-py-');

function python(cmd: string, plate: string): Record<string, string> {
  const r = spawnSync(PYTHON, [SCRIPT, cmd, plate], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
}


async function writePlate(name: string, ngff: '0.4' | '0.5'): Promise<string> {
  const out = path.join(root, name);
  const shape = { t: 1, c: 2, z: 2, y: 13, x: 11 };
  const specs = [
    { well: 'A01', field: '0', dtype: 'uint16' as DType, chunkYX: [5, 4] as const },
    { well: 'B07', field: '0', dtype: 'float32' as DType },
    { well: 'B07', field: '1', dtype: 'uint8' as DType },
  ];
  const w = await OmeZarrPlateWriter.create(out, specs.map((s) => ({ ...s, shape })), { ngff });
  for (const [si, s] of specs.entries()) {
    for (let c = 0; c < 2; c++) {
      for (let z = 0; z < 2; z++) {
        const n = shape.y * shape.x;
        const data = s.dtype === 'uint16' ? new Uint16Array(n) : s.dtype === 'float32' ? new Float32Array(n) : new Uint8Array(n);
        for (let i = 0; i < n; i++) data[i] = s.dtype === 'float32' ? (i - 40) * 0.37 + c : (i * 97 + si * 11 + c * 5 + z) % (s.dtype === 'uint8' ? 256 : 65536);
        await w.writePlane(s.well, s.field, { t: 0, c, z }, data);
      }
    }
  }
  return out;
}

describe.skipIf(!hasZarr)(`Python interoperability (zarr-python ${probe.stdout.trim()})`, () => {
  it('zarr-python 2 reads our NGFF 0.4 plate: same arrays, valid NGFF attributes', async () => {
    const plate = await writePlate('ours-04.zarr', '0.4');
    expect(python('read-v2', plate)).toEqual(await arrayHashes(plate));
  });

  it('a json+gzip+numpy zarr v3 decoder reads our NGFF 0.5 plate', async () => {
    const plate = await writePlate('ours-05.zarr', '0.5');
    expect(python('read-v3', plate)).toEqual(await arrayHashes(plate));
  });

  it('we discover and read a plate zarr-python wrote (Blosc, Zstd, "." chunk keys, big-endian F order)', async () => {
    const plate = path.join(root, 'python.zarr');
    const theirs = python('write-v2', plate);
    expect(await arrayHashes(plate)).toEqual(theirs);
    clearComponentCache();
    const index = await discoverPlate(plate);
    expect(index.format).toBe('OME-Zarr');
    expect(index.components['well']).toEqual(['A01', 'B02', 'C03']);
    expect(index.images).toHaveLength(3 * 2 * 3 * 2);
  });
});
