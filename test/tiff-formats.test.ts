import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewOf, type DType, type ImageStack } from '../src/image.js';
import { decodeWithGeotiff } from '../src/storage/tiff-fallback.js';
import { decodeTiff, readTiff } from '../src/storage/tiff-read.js';
import type { SampleChoice } from '../src/storage/tiff-samples.js';

/**
 * Every layout × dtype × compression Debian's tifffile can write (written and decoded by tifffile
 * in the test, see fixtures/tiff/write_matrix.py), read by plateflow sample by sample and as
 * luminance, and compared with tifffile's decode value for value. Both read paths are checked:
 * the fast path (`decodeTiff`) and the geotiff fallback.
 */

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiff', 'write_matrix.py');
const hasTifffile = spawnSync(PYTHON, ['-c', 'import tifffile, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasTifffile) console.warn(`skipping the tifffile matrix: ${PYTHON} with numpy and tifffile is not available`);

interface Entry {
  readonly file: string;
  readonly raw: string;
  readonly luma: string | null;
  readonly dtype: DType;
  readonly pages: number;
  readonly samples: number;
  readonly compression: number;
  readonly predictor: number;
  readonly planar: number;
  readonly tiled: boolean;
}

let dir: string;
let manifest: Entry[] = [];

beforeAll(async () => {
  if (!hasTifffile) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-tiff-formats-'));
  manifest = JSON.parse(execFileSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8' })) as Entry[];
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const H = 20;
const W = 23;

/** tifffile's planes of `sample`, one per page, as the stack plateflow should return. */
async function expected(e: Entry, choice: SampleChoice): Promise<{ dtype: DType; values: number[] }> {
  const bytes = new Uint8Array(await readFile(choice === 'luminance' ? e.luma! : e.raw));
  if (choice === 'luminance') {
    const dtype: DType = e.dtype === 'float64' ? 'float64' : 'float32';
    return { dtype, values: Array.from(viewOf(dtype, bytes.buffer, 0, e.pages * H * W)) };
  }
  const all = viewOf(e.dtype, bytes.buffer, 0, e.pages * e.samples * H * W);
  const values: number[] = [];
  for (let p = 0; p < e.pages; p++) {
    const start = (p * e.samples + choice) * H * W;
    values.push(...Array.from(all.subarray(start, start + H * W)));
  }
  return { dtype: e.dtype, values };
}

function expectStack(got: ImageStack, want: { dtype: DType; values: number[] }, pages: number): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual([pages, H, W]);
  // toEqual on arrays treats NaN as equal to NaN and -0 as -0, which is what a decode must keep.
  expect(Array.from(got.data)).toEqual(want.values);
}

function choicesOf(e: Entry): SampleChoice[] {
  const samples: SampleChoice[] = Array.from({ length: e.samples }, (_, k) => k);
  return e.samples >= 3 ? [...samples, 'luminance'] : samples;
}

describe.skipIf(!hasTifffile)('TIFFs written by tifffile decode equal to tifffile’s arrays', () => {
  it('the matrix covers every dtype, both byte orders, tiles, planar and chunky, Deflate with and without predictor', () => {
    const dtypes = new Set(manifest.map((e) => e.dtype));
    expect([...dtypes].sort()).toEqual(['float32', 'float64', 'int16', 'int32', 'int8', 'uint16', 'uint32', 'uint8']);
    expect(manifest.some((e) => e.tiled && e.samples === 3)).toBe(true);
    expect(manifest.some((e) => e.planar === 2 && e.compression === 8 && e.predictor === 2)).toBe(true);
    expect(manifest.some((e) => e.file.endsWith('-be.tif') && e.predictor === 2 && e.dtype === 'int16')).toBe(true);
    expect(manifest.some((e) => e.samples === 4)).toBe(true);
  });

  it('fast path: every sample and the luminance of every file', async () => {
    for (const e of manifest) {
      const bytes = new Uint8Array(await readFile(e.file));
      for (const choice of choicesOf(e)) {
        const got = await decodeTiff(bytes, e.file, e.samples > 1 ? { sample: choice } : {});
        try {
          expectStack(got, await expected(e, choice), e.pages);
        } catch (err) {
          throw new Error(`${path.basename(e.file)} sample ${choice}: ${(err as Error).message}`);
        }
      }
    }
  });

  it('geotiff fallback: the same values (apart from its known predictor bug on big-endian data)', async () => {
    // geotiff 3.0.5 undoes predictor 2 byte-wise on big-endian multi-byte data (carries lost);
    // the fast path reads those files, the fallback never sees them.
    const usable = manifest.filter((e) => !(e.predictor === 2 && e.file.endsWith('-be.tif') && !e.dtype.endsWith('8')));
    expect(usable.length).toBeGreaterThan(150);
    for (const e of usable) {
      const bytes = new Uint8Array(await readFile(e.file));
      for (const choice of choicesOf(e)) {
        const got = await decodeWithGeotiff(bytes, e.file, { sample: choice });
        try {
          expectStack(got, await expected(e, choice), e.pages);
        } catch (err) {
          throw new Error(`${path.basename(e.file)} sample ${choice} (geotiff): ${(err as Error).message}`);
        }
      }
    }
  });

  it('readTiff refuses a multi-sample file without a sample choice, naming the file', async () => {
    const rgb = manifest.find((e) => e.samples === 3)!;
    await expect(readTiff(rgb.file)).rejects.toMatchObject({ code: 'E_TIFF_INVALID', context: { file: rgb.file }, message: expect.stringMatching(/3 samples per pixel and no sample was chosen/) });
  });
});
