/**
 * Reading a TIFF's pixels straight into a caller's array (`LoadOptions.into`): files that need no
 * decoding land in place, everything else reads as before; either way the pixels are the same.
 */
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocate, createStack, type DType, type PixelArray } from '../src/image.js';
import type { PixelDestination, ReadBuffer } from '../src/storage/backend.js';
import { readTiff } from '../src/storage/tiff-read.js';
import { encodeTiff } from '../src/storage/tiff-write.js';
import { tempDir } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiff');
/** Needs no decoding: uncompressed, one sample, little-endian, one run of bytes. */
const RAW = ['uint8.tif', 'uint16.tif', 'uint32.tif', 'int16.tif', 'int32.tif', 'float32.tif', 'multipage-uint16.tif', 'multistrip-uint16.tif', 'pyramid-uint16.tif'];
const PAD = 7;

/** A destination with PAD sentinel elements on each side of the slot it offers. */
function paddedDestination(): { into: PixelDestination; asked: () => number; slot: () => { data: PixelArray; offset: number; length: number } | undefined } {
  let given: { data: PixelArray; offset: number; length: number } | undefined;
  let asked = 0;
  const into: PixelDestination = (dtype: DType, [n, h, w]) => {
    asked++;
    const length = n * h * w;
    const data = allocate(dtype, length + 2 * PAD);
    data.fill(42 as never);
    given = { data, offset: PAD, length };
    return { data, offset: PAD };
  };
  return { into, asked: () => asked, slot: () => given };
}

describe('readTiff into a caller\'s array', () => {
  const readable = readdirSync(FIXTURES).filter((f) => f.endsWith('.tif') && !f.startsWith('bigtiff') && !f.startsWith('mixed') && !f.startsWith('rgb'));

  it.each(readable)('%s: the same pixels as a plain read; in place exactly when no decoding is needed', async (name) => {
    const file = path.join(FIXTURES, name);
    const plain = await readTiff(file);
    const destination = paddedDestination();
    const readBuffer: ReadBuffer = { bytes: new Uint8Array(0) };
    const read = await readTiff(file, { readBuffer, into: destination.into });
    expect(read.dtype).toBe(plain.dtype);
    expect(read.shape).toEqual(plain.shape);
    expect(Array.from(read.data)).toEqual(Array.from(plain.data));
    const slot = destination.slot();
    if (RAW.includes(name)) {
      expect(slot).toBeDefined();
      expect(read.data.buffer).toBe(slot!.data.buffer);
      expect(read.data.byteOffset).toBe(slot!.data.byteOffset + PAD * slot!.data.BYTES_PER_ELEMENT);
      // Nothing outside the slot was written.
      const outside = [...slot!.data.subarray(0, PAD), ...slot!.data.subarray(PAD + slot!.length)];
      expect(outside.every((v) => v === 42)).toBe(true);
    } else {
      expect(destination.asked()).toBe(0);
      expect(read.data.buffer).not.toBe(slot?.data.buffer);
    }
  });

  it('a declined destination reads as usual, and a file that is not a TIFF fails as usual', async () => {
    const dir = await tempDir('plateflow-read-into-');
    const file = path.join(dir, 'plane.tif');
    const stack = createStack('uint16', 2, 40, 30);
    stack.data.forEach((_, i) => (stack.data[i] = (i * 37) % 65536));
    await writeFile(file, encodeTiff(stack));
    const declined = await readTiff(file, { readBuffer: { bytes: new Uint8Array(0) }, into: () => undefined });
    expect(Array.from(declined.data)).toEqual(Array.from(stack.data));
    const junk = path.join(dir, 'junk.tif');
    await writeFile(junk, 'not a tiff at all');
    const plainError = await readTiff(junk).catch((e: unknown) => e);
    const intoError = await readTiff(junk, { readBuffer: { bytes: new Uint8Array(0) }, into: paddedDestination().into }).catch((e: unknown) => e);
    expect(intoError).toMatchObject({ code: 'E_TIFF_INVALID', message: (plainError as Error).message });
  });
});
