/**
 * kill -9 at random moments of `plateflow run --output-format ome-zarr`, then resume: the OME-Zarr
 * plate (chunks, plate/well/image documents), plateflow_metadata.json and the results equal an
 * uninterrupted run byte for byte (the same soak `npm run soak:resume` runs for TIFF).
 */
import { expect, it } from 'vitest';
import { soakResume } from '../scripts/soak-resume.mjs';

it('survives kill -9 at random moments with --output-format ome-zarr: resumed plate equals a clean run byte for byte', async () => {
  const result = await soakResume({ kills: 3, seed: 5, wells: 6, outputFormat: 'ome-zarr' });
  expect(result.kills).toBe(3);
  expect(result.files).toBeGreaterThan(40); // 12 positions × (group, array, 2 chunks) + plate and well documents + run files
  expect(result.mismatched).toEqual([]);
}, 120_000);
