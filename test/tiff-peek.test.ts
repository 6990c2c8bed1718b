import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StorageError, TiffError } from '../src/errors.js';
import { peekTiffSamples } from '../src/storage/tiff-peek.js';
import { tempDir } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiff');
const fixture = (name: string): string => path.join(FIXTURES, name);

describe('peekTiffSamples reads samples per pixel and photometric from the first IFD only', () => {
  it.each([
    ['rgb-uint8.tif', 3, 2],
    ['rgb-planar-lzw-pred-uint16.tif', 3, 2],
    ['rgb-packbits-uint8.tif', 3, 2],
    ['uint16.tif', 1, 1],
    ['uint16-be.tif', 1, 1],
    ['bigtiff-uint16.tif', 1, 1],
  ])('%s → %i samples, photometric %i', async (name, samplesPerPixel, photometric) => {
    expect(await peekTiffSamples(fixture(name))).toEqual({ samplesPerPixel, photometric });
  });

  it('a file that is not a TIFF, or is cut inside its first IFD, is a TiffError naming it; a missing one a StorageError', async () => {
    const dir = await tempDir('plateflow-peek-');
    const png = path.join(dir, 'x.tif');
    await writeFile(png, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    await expect(peekTiffSamples(png)).rejects.toThrow(TiffError);
    await expect(peekTiffSamples(png)).rejects.toThrow(`${png}: not a TIFF file`);
    const cut = path.join(dir, 'cut.tif');
    await writeFile(cut, new Uint8Array([0x49, 0x49, 42, 0, 8, 0, 0, 0, 9, 0, 1, 1]));
    await expect(peekTiffSamples(cut)).rejects.toThrow(/cut\.tif: truncated/);
    await expect(peekTiffSamples(path.join(dir, 'missing.tif'))).rejects.toThrow(StorageError);
  });
});
