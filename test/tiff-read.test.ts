import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortError, isPlateflowError, TiffError } from '../src/errors.js';
import { createStack, type DType, type ImageStack } from '../src/image.js';
import { decodeWithGeotiff } from '../src/storage/tiff-fallback.js';
import { decodeTiff, readTiff } from '../src/storage/tiff-read.js';
import { encodeTiff } from '../src/storage/tiff-write.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiff');
const H = 12;
const W = 16;

/** Same formula as `expected()` in fixtures/tiff/make_fixtures.py. */
function expectedValue(dtype: DType, p: number, y: number, x: number): number {
  switch (dtype) {
    case 'uint8': return (37 + p * 50 + y * 16 + x) % 256;
    case 'uint16': return (11 + p * 4099 + y * 3001 + x * 257) % 65536;
    case 'uint32': return 5 + p * 1000003 + y * 123456789 + x * 7654321;
    case 'int32': return (y * 16 + x - 96) * 1234567 - p * 7;
    case 'float32': return (y * 16 + x) * 0.5 - 40.25 + p * 1000;
    case 'int16': return y * 16 + x - 100;
    default: throw new Error(`no fixture formula for ${dtype}`);
  }
}

function expectFormula(stack: ImageStack, dtype: DType, pages: number): void {
  expect(stack.dtype).toBe(dtype);
  expect(stack.shape).toEqual([pages, H, W]);
  const want = createStack(dtype, pages, H, W);
  for (let p = 0; p < pages; p++) {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) want.data[(p * H + y) * W + x] = expectedValue(dtype, p, y, x);
  }
  expect(Array.from(stack.data)).toEqual(Array.from(want.data));
}

const fixture = (name: string): string => path.join(FIXTURES, name);
const bytesOf = async (name: string): Promise<Uint8Array> => new Uint8Array(await readFile(fixture(name)));

/** [file, dtype, pages, decoded by the fast path?] */
const CASES: ReadonlyArray<readonly [string, DType, number, boolean]> = [
  ['uint8.tif', 'uint8', 1, true],
  ['uint16.tif', 'uint16', 1, true],
  ['uint16-be.tif', 'uint16', 1, true],
  ['uint32.tif', 'uint32', 1, true],
  ['int32.tif', 'int32', 1, true],
  ['int32-be.tif', 'int32', 1, true],
  ['float32.tif', 'float32', 1, true],
  ['float32-be.tif', 'float32', 1, true],
  ['int16.tif', 'int16', 1, true],
  ['multipage-uint16.tif', 'uint16', 3, true],
  ['multistrip-uint16.tif', 'uint16', 1, true],
  ['deflate-uint16.tif', 'uint16', 2, true],
  ['deflate-pred-uint16.tif', 'uint16', 1, true],
  ['deflate-pred-uint16-be.tif', 'uint16', 1, true],
  ['deflate-pred-int32.tif', 'int32', 1, true],
  ['lzw-uint8.tif', 'uint8', 1, true],
  ['lzw-uint16.tif', 'uint16', 1, true],
  ['lzw-pred-uint8.tif', 'uint8', 1, true],
  ['packbits-uint8.tif', 'uint8', 1, true],
  ['packbits-uint16.tif', 'uint16', 1, true],
  ['deflate-pred3-float32.tif', 'float32', 1, true],
  ['lzw-pred3-float32.tif', 'float32', 1, true],
  ['pyramid-uint16.tif', 'uint16', 1, true],
  ['tiled-uint16.tif', 'uint16', 1, true],
  ['tiled-lzw-uint16.tif', 'uint16', 1, true],
  ['tiled-lzw-pred-uint16.tif', 'uint16', 1, true],
  ['tiled-deflate-float32.tif', 'float32', 2, true],
  ['bigtiff-uint16.tif', 'uint16', 2, false],
];

describe('readTiff on fixtures written by tifffile and libtiff', () => {
  it.each(CASES)('%s → %s × %i pages with the expected pixels', async (name, dtype, pages) => {
    expectFormula(await readTiff(fixture(name)), dtype, pages);
  });

  // geotiff is an independent decoder: agreeing with it on the fast-path files cross-checks both.
  // Except one: geotiff 3.0.5 undoes predictor 2 on big-endian 16-bit data byte-wise, losing carries
  // (values off by 256), which is one more reason BE files stay on our own path.
  const GEOTIFF_WRONG = new Set(['deflate-pred-uint16-be.tif']);
  it.each(CASES.filter((c) => c[3] && !GEOTIFF_WRONG.has(c[0])))('%s decodes the same through the geotiff fallback', async (name, dtype, pages) => {
    expectFormula(await decodeWithGeotiff(await bytesOf(name), name, {}), dtype, pages);
  });
});

/** Same formula as `rgb()` in fixtures/tiff/make_fixtures.py: R = the gray formula, G = max − R, B = 3·R mod range. */
function expectedRgb(dtype: 'uint8' | 'uint16', sample: number): number[] {
  const top = dtype === 'uint8' ? 255 : 65535;
  const out: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const r = expectedValue(dtype, 0, y, x);
      out.push([r, top - r, (3 * r) % (top + 1)][sample]!);
    }
  }
  return out;
}

/** Colour fixtures Debian's tifffile cannot write (LZW, PackBits), from libtiff or our LZW encoder. */
const RGB_CASES: ReadonlyArray<readonly [string, 'uint8' | 'uint16']> = [
  ['rgb-lzw-pred-uint8.tif', 'uint8'],
  ['rgb-packbits-uint8.tif', 'uint8'],
  ['rgb-planar-lzw-pred-uint16.tif', 'uint16'],
  ['rgb-uint8.tif', 'uint8'],
];

describe('multi-sample fixtures, sample by sample and as luminance', () => {
  it.each(RGB_CASES)('%s: each sample equals the formula and what geotiff decodes', async (name, dtype) => {
    const bytes = await bytesOf(name);
    for (const sample of [0, 1, 2]) {
      const fast = await decodeTiff(bytes, name, { sample });
      expect(fast.dtype).toBe(dtype);
      expect(fast.shape).toEqual([1, H, W]);
      const want = name === 'rgb-uint8.tif' ? expectedRgbGray(sample) : expectedRgb(dtype, sample);
      expect(Array.from(fast.data)).toEqual(want);
      expect(Array.from((await decodeWithGeotiff(bytes, name, { sample })).data)).toEqual(want);
    }
    const luma = await decodeTiff(bytes, name, { sample: 'luminance' });
    expect(luma.dtype).toBe('float32');
    const [r, g, b] = [0, 1, 2].map((s) => (name === 'rgb-uint8.tif' ? expectedRgbGray(s) : expectedRgb(dtype, s)));
    expect(Array.from(luma.data)).toEqual(r!.map((v, i) => Math.fround(0.299 * v + 0.587 * g![i]! + 0.114 * b![i]!)));
  });
});

/** rgb-uint8.tif repeats the uint8 gray formula in all three samples. */
function expectedRgbGray(_sample: number): number[] {
  return Array.from({ length: H * W }, (_, i) => expectedValue('uint8', 0, Math.floor(i / W), i % W));
}

it('decodes LZW through 12-bit codes and table resets (lzw-large-uint16.tif, libtiff-encoded)', async () => {
  const stack = await readTiff(fixture('lzw-large-uint16.tif'));
  expect(stack.shape).toEqual([1, 64, 64]);
  expect(stack.dtype).toBe('uint16');
  const want = Array.from({ length: 64 * 64 }, (_, i) => (i * i * 7 + i * 13) % 65536);
  expect(Array.from(stack.data)).toEqual(want);
});

describe('zero copy', () => {
  it('returns an uncompressed little-endian file as a view over its bytes', async () => {
    const bytes = await bytesOf('uint16.tif');
    const stack = await decodeTiff(bytes, 'uint16.tif');
    expect(stack.data.buffer).toBe(bytes.buffer);
    expectFormula(stack, 'uint16', 1);
  });

  it('returns every page of a file written by encodeTiff as one view', async () => {
    const src = createStack('float32', 3, 5, 7);
    src.data.forEach((_, i) => (src.data[i] = i * 0.25 - 3));
    const bytes = encodeTiff(src);
    const stack = await decodeTiff(bytes, 'mem.tif');
    expect(stack.data.buffer).toBe(bytes.buffer);
    expect(Array.from(stack.data)).toEqual(Array.from(src.data));
  });

  it('copies once into an aligned buffer when the pixel data is misaligned', async () => {
    const file = await bytesOf('uint16.tif');
    const shifted = new Uint8Array(file.length + 1).subarray(1);
    shifted.set(file);
    const stack = await decodeTiff(shifted, 'shifted.tif');
    expect(stack.data.buffer).not.toBe(shifted.buffer);
    expect(stack.data.byteOffset % 2).toBe(0);
    expectFormula(stack, 'uint16', 1);
  });

  it('gives readTiff results their own buffer (safe to transfer)', async () => {
    const stack = await readTiff(fixture('uint16.tif'));
    expect(stack.data.buffer.byteLength).toBe((await bytesOf('uint16.tif')).length);
  });
});

describe('bad input raises TiffError naming the file', () => {
  const expectTiffError = async (promise: Promise<unknown>, message: string | RegExp): Promise<void> => {
    const err = await promise.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TiffError);
    expect((err as TiffError).code).toBe('E_TIFF_INVALID');
    expect((err as TiffError).context.file).toBe('x.tif');
    expect((err as TiffError).message).toMatch(message);
  };

  it('empty file', async () => {
    await expectTiffError(decodeTiff(new Uint8Array(0), 'x.tif'), 'x.tif: empty file (0 bytes)');
  });

  it('not a TIFF', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    await expectTiffError(decodeTiff(png, 'x.tif'), 'x.tif: not a TIFF file (bad magic bytes)');
    await expectTiffError(decodeTiff(new Uint8Array([0x49, 0x49, 7, 0, 8, 0, 0, 0]), 'x.tif'), 'x.tif: not a TIFF file (bad magic bytes)');
    await expectTiffError(decodeTiff(new Uint8Array([0x49]), 'x.tif'), 'x.tif: not a TIFF file (bad magic bytes)');
  });

  it('truncated pixel data', async () => {
    const bytes = encodeTiff(createStack('uint16', 1, 256, 512));
    // Header 8 + IFD (2 + 11×12 + 4) = 146, pixel data starts at the next 16-byte boundary.
    const end = 160 + 256 * 512 * 2;
    await expectTiffError(decodeTiff(bytes.subarray(0, 1000), 'x.tif'), `x.tif: truncated: strip 0 ends at byte ${end} but the file has 1000 bytes`);
  });

  it('truncated page of a multi-page file', async () => {
    const bytes = encodeTiff(createStack('uint8', 3, 4, 4));
    await expectTiffError(decodeTiff(bytes.subarray(0, bytes.length - 1), 'x.tif'), /^x\.tif: truncated: strip 0 of page 2 ends at byte \d+ but the file has \d+ bytes$/);
  });

  it('truncated header and IFD', async () => {
    const bytes = await bytesOf('uint16.tif');
    await expectTiffError(decodeTiff(bytes.subarray(0, 6), 'x.tif'), 'x.tif: truncated: the header needs 8 bytes but the file has 6 bytes');
    const ifd = new DataView(bytes.buffer).getUint32(4, true);
    await expectTiffError(decodeTiff(bytes.subarray(0, ifd + 20), 'x.tif'), /^x\.tif: truncated: IFD 0 ends at byte \d+ but the file has \d+ bytes$/);
  });

  it('a colour file read without choosing a sample', async () => {
    await expectTiffError(decodeTiff(await bytesOf('rgb-uint8.tif'), 'x.tif'), /page 0 has 3 samples per pixel and no sample was chosen/);
    await expectTiffError(decodeTiff(await bytesOf('rgb-uint8.tif'), 'x.tif', { sample: 3 }), /sample 3 was asked for, but page 0 has 3 samples per pixel/);
  });

  it('pages of different size', async () => {
    await expectTiffError(decodeTiff(await bytesOf('mixed-pages.tif'), 'x.tif'), /page 1 is 8×8 uint16 but page 0 is 16×12 uint16; all pages must share size, dtype and samples per pixel/);
  });

  it('corrupt compressed strips', async () => {
    const deflate = await bytesOf('deflate-uint16.tif');
    const garbled = deflate.slice();
    // tifffile puts the first strip right after the first IFD; garble the zlib header found there.
    const at = findZlibHeader(garbled);
    garbled[at] = 0x00;
    garbled[at + 1] = 0x00;
    await expectTiffError(decodeTiff(garbled, 'x.tif'), /^x\.tif: strip 0 of page 0: /);
  });

  it('missing file → E_NOT_FOUND with the path', async () => {
    const missing = fixture('does-not-exist.tif');
    const err = await readTiff(missing).catch((e: unknown) => e);
    expect(isPlateflowError(err, 'E_NOT_FOUND')).toBe(true);
    expect((err as TiffError).context.path).toBe(missing);
  });

  it('aborted signal → AbortError carrying the reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user pressed ^C'));
    const err = await readTiff(fixture('uint8.tif'), { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe(controller.signal.reason);
  });
});

describe('robustness', () => {
  const onlyTiffErrors = async (bytes: Uint8Array, opts: { sample?: number | 'luminance' } = {}): Promise<void> => {
    try {
      await decodeTiff(bytes, 'fuzz.tif', opts);
    } catch (err) {
      if (!(err instanceof TiffError)) throw err;
    }
  };

  it('every truncation of every fixture decodes or raises TiffError', async () => {
    for (const [name] of CASES) {
      const bytes = await bytesOf(name);
      for (let n = 0; n < bytes.length; n += 7) await onlyTiffErrors(bytes.slice(0, n));
    }
  });

  it('truncations and byte flips of the colour fixtures raise only TiffError', async () => {
    const files = await Promise.all(RGB_CASES.map(([name]) => bytesOf(name)));
    for (const bytes of files) for (let n = 0; n < bytes.length; n += 5) await onlyTiffErrors(bytes.slice(0, n), { sample: 'luminance' });
    await fc.assert(
      fc.asyncProperty(fc.nat(files.length - 1), fc.constantFrom<number | 'luminance'>(0, 2, 'luminance'), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), async (i, sample, flips) => {
        const bytes = files[i]!.slice();
        for (const [pos, value] of flips) bytes[pos % bytes.length] = value;
        await onlyTiffErrors(bytes, { sample });
      }),
      { numRuns: 200 },
    );
  });

  it('random bytes after a TIFF header raise only TiffError', async () => {
    const header = fc.constantFrom([0x49, 0x49, 42, 0], [0x4d, 0x4d, 0, 42]);
    await fc.assert(
      fc.asyncProperty(header, fc.uint8Array({ minLength: 0, maxLength: 300 }), async (h, rest) => {
        await onlyTiffErrors(new Uint8Array([...h, ...rest]));
      }),
      { numRuns: 300 },
    );
  });

  it('random byte flips in fixtures raise only TiffError', async () => {
    const files = await Promise.all(CASES.map(([name]) => bytesOf(name)));
    await fc.assert(
      fc.asyncProperty(fc.nat(files.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), async (i, flips) => {
        const bytes = files[i]!.slice();
        for (const [pos, value] of flips) bytes[pos % bytes.length] = value;
        await onlyTiffErrors(bytes);
      }),
      { numRuns: 300 },
    );
  });
});

function findZlibHeader(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  // StripOffsets (273) of the first IFD.
  const ifd = view.getUint32(4, true);
  const n = view.getUint16(ifd, true);
  for (let e = ifd + 2; e < ifd + 2 + n * 12; e += 12) {
    if (view.getUint16(e, true) !== 273) continue;
    const count = view.getUint32(e + 4, true);
    const type = view.getUint16(e + 2, true);
    const size = type === 3 ? 2 : 4;
    const at = count * size <= 4 ? e + 8 : view.getUint32(e + 8, true);
    return size === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
  }
  throw new Error('no StripOffsets');
}
