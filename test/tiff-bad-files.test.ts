import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiffError } from '../src/errors.js';
import { createStack } from '../src/image.js';
import { decodeTiff, readTiff } from '../src/storage/tiff-read.js';
import { encodeTiff } from '../src/storage/tiff-write.js';

/**
 * Broken and unsupported TIFFs end in a TiffError (E_TIFF_INVALID) whose message names the file and
 * what is wrong with it, never a RangeError or a half-decoded image. Each file is a valid one with
 * one IFD value patched, so the test says exactly which fault it exercises.
 */

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiff');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-tiff-bad-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Set the first value of `tag` in IFD 0 of a little-endian classic TIFF (a SHORT or LONG stored inline). */
function patchTag(bytes: Uint8Array, tag: number, value: number): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const ifd = view.getUint32(4, true);
  const n = view.getUint16(ifd, true);
  for (let e = ifd + 2; e < ifd + 2 + n * 12; e += 12) {
    if (view.getUint16(e, true) !== tag) continue;
    if (view.getUint16(e + 2, true) === 3) view.setUint16(e + 8, value, true);
    else view.setUint32(e + 8, value, true);
    return out;
  }
  throw new Error(`tag ${tag} not in IFD 0`);
}

async function readError(name: string, bytes: Uint8Array, opts: { sample?: number | 'luminance' } = {}): Promise<TiffError> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  const err = await readTiff(file, opts).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TiffError);
  expect((err as TiffError).code).toBe('E_TIFF_INVALID');
  expect((err as TiffError).message.startsWith(`${file}: `)).toBe(true);
  return err as TiffError;
}

const gray16 = (): Uint8Array => {
  const stack = createStack('uint16', 1, 20, 24);
  stack.data.forEach((_, i) => (stack.data[i] = i * 37));
  return encodeTiff(stack);
};

describe('bad TIFFs: TiffError naming the file and the cause', () => {
  it('unknown compression', async () => {
    const err = await readError('jp2.tif', patchTag(gray16(), 259, 34712));
    expect(err.message).toMatch(/unsupported compression: page 0 uses JPEG 2000 \(Compression 34712\) \(plateflow reads uncompressed, LZW, Deflate/);
    const odd = await readError('odd.tif', patchTag(gray16(), 259, 12345));
    expect(odd.message).toMatch(/page 0 uses unknown compression 12345/);
  });

  it('a bit depth plateflow has no dtype for (12-bit, 64-bit integer, 16-bit float)', async () => {
    expect((await readError('12bit.tif', patchTag(gray16(), 258, 12))).message).toMatch(/unsupported sample layout: page 0 is 12-bit unsigned integer/);
    const int64 = patchTag(patchTag(encodeTiff(createStack('float64', 1, 4, 4)), 339, 2), 258, 64);
    expect((await readError('int64.tif', int64)).message).toMatch(/page 0 is 64-bit signed integer/);
    const half = patchTag(encodeTiff(createStack('uint16', 1, 4, 4)), 339, 3);
    expect((await readError('half.tif', half)).message).toMatch(/page 0 is 16-bit float/);
  });

  it('BitsPerSample larger than the data: an uncompressed strip runs past the end of the file', async () => {
    const u8 = encodeTiff(createStack('uint8', 1, 20, 24));
    expect((await readError('bits.tif', patchTag(u8, 258, 16))).message).toMatch(/truncated: strip 0 ends at byte \d+ but the file has \d+ bytes/);
  });

  it('BitsPerSample larger than the data: a compressed strip decodes short', async () => {
    // packbits-uint8.tif is 16×12 8-bit; claiming 16 bits makes each row twice as long.
    const packbits = new Uint8Array(await readFile(path.join(FIXTURES, 'packbits-uint8.tif')));
    expect((await readError('short.tif', patchTag(packbits, 258, 16))).message).toMatch(/strip \d+ decodes to \d+ bytes, expected \d+ \(16×\d+ pixels × 1 sample × 16 bits\)/);
  });

  it('BitsPerSample listing a value count that fits no sample count', async () => {
    // rgb-uint8.tif lists 3 BitsPerSample values; claim 4 samples per pixel.
    const rgb = new Uint8Array(await readFile(path.join(FIXTURES, 'rgb-uint8.tif')));
    expect((await readError('spp.tif', patchTag(rgb, 277, 4), { sample: 0 })).message).toMatch(/corrupt: IFD 0 lists 3 BitsPerSample values for 4 samples per pixel/);
  });

  it('truncated compressed strip', async () => {
    // tifffile writes the IFDs first, so cutting the end leaves them whole.
    const deflate = new Uint8Array(await readFile(path.join(FIXTURES, 'deflate-uint16.tif')));
    let cut = deflate.length - 1;
    for (; cut > 8; cut--) {
      const e = await decodeTiff(deflate.subarray(0, cut), 'probe').then(() => undefined, (x: unknown) => x);
      if (e instanceof TiffError && /truncated: strip/.test(e.message)) break;
    }
    const err = await readError('cut.tif', deflate.subarray(0, cut));
    expect(err.message).toMatch(/cut\.tif: truncated: strip \d+ of page 1 ends at byte \d+ but the file has \d+ bytes$/);
  });

  it('a sample that does not exist', async () => {
    const rgb = new Uint8Array(await readFile(path.join(FIXTURES, 'rgb-uint8.tif')));
    expect((await readError('s5.tif', rgb, { sample: 5 })).message).toMatch(/sample 5 was asked for, but page 0 has 3 samples per pixel/);
    expect((await readError('gray-s1.tif', gray16(), { sample: 1 })).message).toMatch(/sample 1 was asked for, but page 0 has 1 sample per pixel/);
  });
});
