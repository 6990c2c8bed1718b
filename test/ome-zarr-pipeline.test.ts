/**
 * A pipeline reads an OME-Zarr plate through the FileManager's zarr backend, one plane per record,
 * and computes exactly what it computes from the TIFF plate the Zarr plate was converted from.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlate } from '../src/run/run-plate.js';
import { convertPlate } from '../src/ome-zarr/convert.js';
import { FileManager } from '../src/storage/file-manager.js';
import { readTiff } from '../src/storage/tiff-read.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { STANDARD, tempDir } from './helpers.js';

const dir = await tempDir('plateflow-zarr-pipe-');
const tiffPlate = path.join(dir, 'plate');
await synthesizePlate(tiffPlate, { wells: 2, sites: 2, channels: 2, z: 3, size: 64, seed: 3 });

describe.each(['0.4', '0.5'] as const)('pipeline over an OME-Zarr %s plate', (ngff) => {
  it('gives the same measurements and the same projected images as over the TIFF plate', async () => {
    const zarrPlate = path.join(dir, `plate-${ngff}.zarr`);
    await convertPlate(tiffPlate, zarrPlate, { ngff });
    const fromTiff = await runPlate(tiffPlate, { pipeline: STANDARD, out: path.join(dir, `out-tiff-${ngff}`) });
    const fromZarr = await runPlate(zarrPlate, { pipeline: STANDARD, out: path.join(dir, `out-zarr-${ngff}`) });
    expect(fromZarr.plate.format).toBe('OME-Zarr');
    expect(fromZarr.totals).toMatchObject({ tasks: 2, ok: 2, failed: 0 });
    expect(fromZarr.measurements).toEqual(fromTiff.measurements);
    const outputs = (run: typeof fromTiff) => [...run.outcome.results.values()].flatMap((r) => r.outputs).sort();
    expect(outputs(fromTiff).length).toBe(2 * 2 * 2); // wells × sites × channels max projections
    expect(Object.keys(fromTiff.measurements).length).toBeGreaterThan(0);
    expect(outputs(fromZarr)).toEqual(outputs(fromTiff));
    for (const rel of outputs(fromTiff)) {
      const [a, b] = await Promise.all([readFile(path.join(dir, `out-tiff-${ngff}`, rel)), readFile(path.join(dir, `out-zarr-${ngff}`, rel))]);
      expect((await readTiff(path.join(dir, `out-zarr-${ngff}`, rel))).data).toEqual((await readTiff(path.join(dir, `out-tiff-${ngff}`, rel))).data);
      expect(b.length).toBe(a.length);
    }
  });
});

it('FileManager loads one zarr plane by page, and closes the zarr backend with the others', async () => {
  const zarrPlate = path.join(dir, 'plate-0.4.zarr');
  const files = new FileManager();
  const plane = await files.load('zarr', path.join(zarrPlate, 'A/1/0/0'), { page: 4 });
  expect(plane.shape).toEqual([1, 64, 64]);
  const tiff = await readTiff(path.join(tiffPlate, 'TimePoint_1', 'ZStep_2', 'A01_s1_w2.tif')); // t0, c1, z1 → page (0·2 + 1)·3 + 1 = 4
  expect(plane.data).toEqual(tiff.data);
  await files.close();
  expect(() => files.backend('zarr')).toThrow(/closed/);
});
