import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, type DType, type PixelArray } from '../src/image.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { OmeZarrPlateWriter } from '../src/ome-zarr/plate-writer.js';
import { ZarrArray } from '../src/storage/zarr-array.js';
import { ZarrBackend } from '../src/storage/zarr-backend.js';
import type { ZarrCompression } from '../src/storage/zarr-format.js';
import { tempDir } from './helpers.js';

const root = await tempDir('plateflow-zarr-rt-');
let n = 0;

function randomPlane(dtype: DType, size: number, seed: number): PixelArray {
  const data = allocate(dtype, size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = dtype === 'float32' ? (s / 2 ** 32 - 0.5) * 1e6 : dtype === 'uint8' ? s >>> 24 : s >>> 16;
  }
  if (dtype === 'float32') {
    data[0] = Number.NaN;
    data[1] = -0;
    data[2] = Number.POSITIVE_INFINITY;
  }
  return data;
}

function sameBits(a: PixelArray, b: PixelArray): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const shape = { t: 2, c: 2, z: 3, y: 19, x: 23 };
const planes = shape.t * shape.c * shape.z;

describe.each([
  ['0.4', 'uint8', 'gzip'],
  ['0.4', 'uint16', 'zlib'],
  ['0.4', 'float32', 'none'],
  ['0.5', 'uint8', 'none'],
  ['0.5', 'uint16', 'gzip'],
  ['0.5', 'float32', 'gzip'],
] as const)('NGFF %s %s (%s): write → read', (ngff, dtype, compression) => {
  it('reads back every plane bit for bit through the array, the backend and discovery', async () => {
    const out = path.join(root, `p${n++}.zarr`);
    const writer = await OmeZarrPlateWriter.create(
      out,
      [
        { well: 'A01', field: '0', shape, dtype },
        { well: 'A01', field: '1', shape, dtype, chunkYX: [8, 16] },
        { well: 'C12', field: '0', shape, dtype, chunkYX: [19, 5] },
      ],
      { ngff, compression: compression as ZarrCompression },
    );
    const written = new Map<string, PixelArray>();
    const positions = [['A01', '0', 'A/1/0/0'], ['A01', '1', 'A/1/1/0'], ['C12', '0', 'C/12/0/0']] as const;
    for (const [pi, [well, field, arrayPath]] of positions.entries()) {
      for (let t = 0; t < shape.t; t++) {
        for (let c = 0; c < shape.c; c++) {
          for (let z = 0; z < shape.z; z++) {
            if (pi === 2 && t === 1 && c === 1) continue; // never written: must read as the fill value
            const data = randomPlane(dtype, shape.y * shape.x, 1 + pi * 100 + t * 10 + c * 3 + z);
            await writer.writePlane(well, field, { t, c, z }, data);
            written.set(`${arrayPath}:${(t * shape.c + c) * shape.z + z}`, data);
          }
        }
      }
    }

    const backend = new ZarrBackend();
    for (const [, , arrayPath] of positions) {
      const arr = await ZarrArray.open(path.join(out, arrayPath));
      expect(arr.version).toBe(ngff === '0.4' ? 2 : 3);
      expect(arr.dtype).toBe(dtype);
      expect(arr.shape).toEqual([shape.t, shape.c, shape.z, shape.y, shape.x]);
      const all = await backend.load(path.join(out, arrayPath));
      expect(all.shape).toEqual([planes, shape.y, shape.x]);
      for (let page = 0; page < planes; page++) {
        const expected = written.get(`${arrayPath}:${page}`) ?? allocate(dtype, shape.y * shape.x);
        const one = await backend.load(path.join(out, arrayPath), { page });
        expect(one.shape).toEqual([1, shape.y, shape.x]);
        expect(sameBits(one.data, expected), `${arrayPath} page ${page}`).toBe(true);
        expect(sameBits(all.data.subarray(page * shape.y * shape.x, (page + 1) * shape.y * shape.x) as PixelArray, expected)).toBe(true);
      }
    }
    await backend.close();

    clearComponentCache();
    const plate = await discoverPlate(out);
    expect(plate.format).toBe('OME-Zarr');
    expect(plate.images).toHaveLength(positions.length * planes);
    expect(plate.components).toEqual({ well: ['A01', 'C12'], site: ['1', '2'], channel: ['1', '2'], z: ['1', '2', '3'], timepoint: ['1', '2'] });
    const rec = plate.images.find((r) => r.components['well'] === 'C12' && r.components['timepoint'] === '2' && r.components['channel'] === '1' && r.components['z'] === '3');
    expect(rec).toMatchObject({ path: 'C/12/0/0', page: (1 * shape.c + 0) * shape.z + 2 });
  });
});

describe('plane index ↔ coordinates', () => {
  it('planeIndex inverts planeCoords for any TCZ shape', async () => {
    const out = path.join(root, 'idx.zarr');
    const arr = await ZarrArray.create(out, { shape: [3, 4, 5, 2, 2], chunks: [1, 1, 1, 2, 2], dtype: 'uint8' }, { version: 2 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: arr.planeCount - 1 }), (page) => {
        const coords = arr.planeCoords(page);
        expect(arr.planeIndex(coords)).toBe(page);
        expect(page).toBe((coords[0]! * 4 + coords[1]!) * 5 + coords[2]!);
      }),
    );
    expect(() => arr.planeCoords(arr.planeCount)).toThrow(/out of range/);
    await expect(arr.writePlane([0, 0, 5], new Uint8Array(4))).rejects.toMatchObject({ code: 'E_ZARR_INVALID' });
    await expect(arr.writePlane([0, 0, 0], new Uint16Array(4))).rejects.toMatchObject({ code: 'E_ZARR_INVALID' });
  });

  it('refuses to write codecs it cannot produce, but still reads them', async () => {
    const out = path.join(root, 'blosc.zarr');
    await ZarrArray.create(out, { shape: [1, 4, 4], chunks: [1, 4, 4], dtype: 'uint16', compression: 'none' }, { version: 2 });
    const { writeFile, readFile } = await import('node:fs/promises');
    const meta = JSON.parse(await readFile(path.join(out, '.zarray'), 'utf8'));
    await writeFile(path.join(out, '.zarray'), JSON.stringify({ ...meta, compressor: { id: 'blosc', cname: 'lz4', clevel: 5, shuffle: 1 } }));
    const arr = await ZarrArray.open(out);
    expect(arr.notWritableReason).toMatch(/blosc/);
    await expect(arr.writePlane([0], new Uint16Array(16))).rejects.toMatchObject({ code: 'E_ZARR_INVALID' });
    expect([...(await arr.readPlane([0]))]).toEqual(new Array(16).fill(0)); // missing chunk → fill value
  });
});
