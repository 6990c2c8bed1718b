import { createHash } from 'node:crypto';
import path from 'node:path';
import { openOmeZarrPlate } from '../src/ome-zarr/plate-reader.js';
import { ZarrArray } from '../src/storage/zarr-array.js';

/** sha256 of each position array's C-order bytes, keyed by array path: what interop.py prints for Python's reading. */
export async function arrayHashes(plate: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of (await openOmeZarrPlate(plate)).positions) {
    const arr = await ZarrArray.open(path.join(plate, p.arrayPath));
    const hash = createHash('sha256');
    for (let i = 0; i < arr.planeCount; i++) {
      const d = await arr.readPlane(arr.planeCoords(i));
      hash.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    out[p.arrayPath] = hash.digest('hex');
  }
  return out;
}
