import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiffError } from '../src/errors.js';
import { allocate, createStack, DTYPES, type DType, type ImageStack } from '../src/image.js';
import { decodeWithGeotiff } from '../src/storage/tiff-fallback.js';
import { decodeTiff, readTiff } from '../src/storage/tiff-read.js';
import { encodeTiff, writeTiff } from '../src/storage/tiff-write.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plateflow-tiff-write-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** fast-check arbitrary for a value that the dtype stores exactly. */
function valueOf(dtype: DType): fc.Arbitrary<number> {
  switch (dtype) {
    case 'uint8': return fc.integer({ min: 0, max: 255 });
    case 'int8': return fc.integer({ min: -128, max: 127 });
    case 'uint16': return fc.integer({ min: 0, max: 65535 });
    case 'int16': return fc.integer({ min: -32768, max: 32767 });
    case 'uint32': return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int32': return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'float32': return fc.float({ noNaN: true });
    case 'float64': return fc.double({ noNaN: true });
  }
}

const stackArb: fc.Arbitrary<ImageStack> = fc
  .record({ dtype: fc.constantFrom(...DTYPES), planes: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }) })
  .chain(({ dtype, planes, h, w }) =>
    fc.array(valueOf(dtype), { minLength: planes * h * w, maxLength: planes * h * w }).map((values) => {
      const data = allocate(dtype, values.length);
      values.forEach((v, i) => (data[i] = v));
      return { dtype, shape: [planes, h, w] as const, data };
    }),
  );

const sameStack = (a: ImageStack, b: ImageStack): void => {
  expect(a.dtype).toBe(b.dtype);
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data)).toEqual(Array.from(b.data));
};

describe('encodeTiff → decodeTiff round trip', () => {
  it('preserves dtype, shape and every value (property)', async () => {
    await fc.assert(
      fc.asyncProperty(stackArb, async (stack) => {
        sameStack(await decodeTiff(encodeTiff(stack), 'rt.tif'), stack);
      }),
      { numRuns: 300 },
    );
  });

  it('is read identically by geotiff (an independent reader)', async () => {
    await fc.assert(
      fc.asyncProperty(stackArb, async (stack) => {
        sameStack(await decodeWithGeotiff(encodeTiff(stack, { description: 'checked by geotiff' }), 'rt.tif', {}), stack);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps -0, ±Infinity, NaN and denormals in float32 bit-exactly', async () => {
    const data = new Float32Array([-0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38]);
    const back = await decodeTiff(encodeTiff({ dtype: 'float32', shape: [1, 2, 3], data }), 'f.tif');
    expect(new Uint32Array(back.data.buffer, back.data.byteOffset, 6)).toEqual(new Uint32Array(data.buffer));
  });

  it('aligns pixel data so the decoded stack is a view of the encoded bytes', async () => {
    for (const description of [undefined, 'x', 'odd-length text!', 'ü'.repeat(33)]) {
      const bytes = encodeTiff(createStack('float32', 2, 3, 3), description === undefined ? {} : { description });
      const stack = await decodeTiff(bytes, 'a.tif');
      expect(stack.data.buffer).toBe(bytes.buffer);
    }
  });
});

describe('encodeTiff rejects stacks it cannot write faithfully', () => {
  it.each([
    ['data shorter than shape', { dtype: 'uint8', shape: [1, 2, 2], data: new Uint8Array(3) }, /shape \[1, 2, 2\] needs 4 pixels but data has 3/],
    ['dtype / array mismatch', { dtype: 'uint16', shape: [1, 1, 2], data: new Uint8Array(2) }, /dtype is uint16 but data is a Uint8Array/],
    ['zero planes', { dtype: 'uint8', shape: [0, 2, 2], data: new Uint8Array(0) }, /planes = 0/],
    ['float64 data', { dtype: 'float32', shape: [1, 1, 1], data: new Float64Array(1) }, /dtype is float32 but data is a Float64Array/],
    ['int16 data', { dtype: 'uint16', shape: [1, 1, 1], data: new Int16Array(1) }, /dtype is uint16 but data is a Int16Array/],
  ])('%s', (_, stack, message) => {
    expect(() => encodeTiff(stack as unknown as ImageStack, { file: 'bad.tif' })).toThrow(TiffError);
    expect(() => encodeTiff(stack as unknown as ImageStack, { file: 'bad.tif' })).toThrow(message);
  });
});

describe('writeTiff', () => {
  it('creates parent directories and leaves no temp file', async () => {
    const file = path.join(dir, 'a', 'b', 'c.tif');
    const stack = createStack('uint16', 2, 3, 4);
    stack.data.forEach((_, i) => (stack.data[i] = i * 1000));
    await writeTiff(file, stack);
    sameStack(await readTiff(file), stack);
    expect(await readdir(path.dirname(file))).toEqual(['c.tif']);
  });
});

const PYTHON = '/usr/bin/python3';
const hasTifffile = spawnSync(PYTHON, ['-c', 'import tifffile, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasTifffile) console.warn(`skipping the tifffile read-back test: ${PYTHON} with numpy and tifffile is not available`);

describe.skipIf(!hasTifffile)('files written by encodeTiff, read by Python tifffile', () => {
  // One Python process reads every file and prints dtype, shape, description and values as JSON.
  const READER = `
import json, sys, tifffile
out = {}
for f in sys.argv[1:]:
    with tifffile.TiffFile(f) as t:
        a = t.asarray()
        out[f] = {'dtype': str(a.dtype), 'shape': list(a.shape), 'pages': len(t.pages),
                  'description': t.pages[0].description, 'values': a.ravel().tolist()}
print(json.dumps(out))
`;

  it('reads identical values, shape and dtype for every dtype, single- and multi-page', async () => {
    const written = new Map<string, ImageStack>();
    for (const dtype of DTYPES) {
      for (const planes of [1, 3]) {
        const stack = createStack(dtype, planes, 5, 7);
        stack.data.forEach((_, i) => (stack.data[i] = sample(dtype, i)));
        const file = path.join(dir, `py-${dtype}-${planes}.tif`);
        await writeTiff(file, stack, { description: `plateflow test ${dtype}` });
        written.set(file, stack);
      }
    }
    const result = JSON.parse(execFileSync(PYTHON, ['-c', READER, ...written.keys()], { encoding: 'utf8' })) as Record<
      string,
      { dtype: string; shape: number[]; pages: number; description: string; values: number[] }
    >;
    for (const [file, stack] of written) {
      const got = result[file]!;
      expect(got.dtype).toBe(stack.dtype);
      expect(got.pages).toBe(stack.shape[0]);
      expect(got.shape).toEqual(stack.shape[0] === 1 ? stack.shape.slice(1) : [...stack.shape]);
      expect(got.description).toBe(`plateflow test ${stack.dtype}`);
      expect(got.values).toEqual(Array.from(stack.data));
    }
  });
});

/** Values that exercise sign, high bytes and fractions of each dtype. */
function sample(dtype: DType, i: number): number {
  switch (dtype) {
    case 'uint8': return (i * 37) % 256;
    case 'int8': return ((i * 37) % 256) - 128;
    case 'uint16': return (i * 4099 + 255) % 65536;
    case 'int16': return ((i * 4099 + 255) % 65536) - 32768;
    case 'uint32': return (i * 2654435761) % 2 ** 32;
    case 'int32': return (i % 2 === 0 ? -1 : 1) * i * 19999999;
    case 'float32': return i * 0.375 - 20;
    case 'float64': return i * 0.1 - 1e300 * (i % 2);
  }
}

it('encoded file size is header + IFDs + pixel bytes (one allocation, no slack)', async () => {
  const bytes = encodeTiff(createStack('uint16', 1, 512, 512));
  expect(bytes.byteLength).toBe(160 + 512 * 512 * 2);
  expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
  const file = path.join(dir, 'size.tif');
  await writeTiff(file, createStack('uint16', 1, 512, 512));
  expect((await readFile(file)).byteLength).toBe(bytes.byteLength);
});
