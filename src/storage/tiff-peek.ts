import { open, type FileHandle } from 'node:fs/promises';
import { StorageError, TiffError } from '../errors.js';

/**
 * How many samples per pixel the first image of a TIFF has, from its header and first IFD only
 * (a few hundred bytes, whatever the file's size): what discovery needs to know that one file
 * yields several channels, without decoding it.
 *
 * @module
 */

export interface TiffSamples {
  readonly samplesPerPixel: number;
  /** PhotometricInterpretation (2 = RGB), or -1 when absent. */
  readonly photometric: number;
}

const SAMPLES_PER_PIXEL = 277;
const PHOTOMETRIC = 262;

/**
 * @throws TiffError (`E_TIFF_INVALID`) when the file is not a TIFF or its first IFD is cut off.
 * @throws StorageError (`E_STORAGE_IO`) when the file cannot be read.
 */
export async function peekTiffSamples(file: string): Promise<TiffSamples> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const read = async (at: number, length: number): Promise<DataView> => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await handle!.read(buf, 0, length, at);
      if (bytesRead < length) throw new TiffError(file, `truncated: ${length} bytes at byte ${at} are past the end of the file`);
      return new DataView(buf.buffer);
    };
    const header = await read(0, 16).catch(() => read(0, 8));
    const order = header.getUint16(0, false);
    if (order !== 0x4949 && order !== 0x4d4d) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
    const le = order === 0x4949;
    const magic = header.getUint16(2, le);
    if (magic !== 42 && magic !== 43) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
    const big = magic === 43;
    // BigTIFF: 8-byte offsets and counts, 20-byte entries with the value in their last 8 bytes.
    const ifd = big ? Number(header.getBigUint64(8, le)) : header.getUint32(4, le);
    const count = big ? Number((await read(ifd, 8)).getBigUint64(0, le)) : (await read(ifd, 2)).getUint16(0, le);
    const entrySize = big ? 20 : 12;
    const entries = await read(ifd + (big ? 8 : 2), count * entrySize);
    const found = { samplesPerPixel: 1, photometric: -1 };
    for (let e = 0; e < count * entrySize; e += entrySize) {
      const tag = entries.getUint16(e, le);
      if (tag !== SAMPLES_PER_PIXEL && tag !== PHOTOMETRIC) continue;
      // One SHORT (or, from odd writers, LONG), stored inline at the start of the value field.
      const at = e + (big ? 12 : 8);
      const value = entries.getUint16(e + 2, le) === 4 ? entries.getUint32(at, le) : entries.getUint16(at, le);
      if (tag === SAMPLES_PER_PIXEL) found.samplesPerPixel = value;
      else found.photometric = value;
    }
    return found;
  } catch (err) {
    if (err instanceof TiffError) throw err;
    throw new StorageError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle?.close();
  }
}
