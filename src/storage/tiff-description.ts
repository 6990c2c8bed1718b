/**
 * The ImageDescription tag (270) of a TIFF's first page, read with a few positioned reads instead
 * of loading the file: discovery reads it from a handful of images per plate to find instrument
 * metadata (MetaXpress writes its per-image `<MetaData>` XML there), and must stay cheap on
 * plates of thousands of large files.
 *
 * @module
 */
import { open, type FileHandle } from 'node:fs/promises';
import { TiffError } from '../errors.js';

const IMAGE_DESCRIPTION = 270;
const ASCII = 2;
/** Longer descriptions than this are not metadata a person wrote; they are not read. */
const MAX_DESCRIPTION = 1 << 20;

async function readAt(fh: FileHandle, position: number, length: number, file: string, what: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buffer, 0, length, position);
  if (bytesRead < length) throw new TiffError(file, `truncated: ${what} at byte ${position} needs ${length} bytes`);
  return buffer;
}

const view = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * The first page's ImageDescription as text (trailing NULs removed), or undefined when the page
 * has none, it is not ASCII, or it is longer than 1 MiB. BigTIFF files give undefined.
 *
 * @throws TiffError (`E_TIFF_INVALID`) when the file is not a TIFF or its first IFD is truncated.
 * @throws StorageError-like Node errors (ENOENT, EACCES) from opening the file.
 */
export async function readTiffDescription(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const header = view(await readAt(fh, 0, 8, file, 'the header'));
    const order = header.getUint16(0, false);
    if (order !== 0x4949 && order !== 0x4d4d) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
    const le = order === 0x4949;
    const magic = header.getUint16(2, le);
    if (magic === 43) return undefined;
    if (magic !== 42) throw new TiffError(file, 'not a TIFF file (bad magic bytes)');
    const ifd = header.getUint32(4, le);
    const count = view(await readAt(fh, ifd, 2, file, 'the first IFD')).getUint16(0, le);
    const raw = await readAt(fh, ifd + 2, count * 12, file, 'the first IFD');
    const entries = view(raw);
    for (let e = 0; e < count * 12; e += 12) {
      if (entries.getUint16(e, le) !== IMAGE_DESCRIPTION) continue;
      const n = entries.getUint32(e + 4, le);
      if (entries.getUint16(e + 2, le) !== ASCII || n > MAX_DESCRIPTION) return undefined;
      const bytes = n <= 4 ? raw.subarray(e + 8, e + 8 + n) : await readAt(fh, entries.getUint32(e + 8, le), n, file, 'the ImageDescription');
      return bytes.toString('utf8').replace(/\0+$/, '');
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
