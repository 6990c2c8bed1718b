/**
 * Chunk compression for Zarr, on `node:zlib`.
 *
 * zarrita 0.7 decodes gzip and zlib through web `DecompressionStream` and cannot encode them at
 * all; blosc, lz4 and zstd it loads lazily from `numcodecs` (WASM, installed as zarrita's own
 * dependency), decode and encode. We write with `node:zlib` — asynchronous, so compression of many
 * chunks runs on the libuv thread pool in parallel — and `registerNodeZlibCodecs` points zarrita's
 * gzip/zlib entries at the same implementation, so reads are fast too.
 *
 * @module
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { registry } from 'zarrita';
import type { ZarrCompression } from './zarr-format.js';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function asBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Level 1 also switches deflate to run-length-only matching (`Z_RLE`): on microscopy planes
 * (sensor noise, flat background) that is about twice as fast as plain level 1 and the output
 * only ~5 % larger. It is an encoder choice — the stream is ordinary deflate that every decoder
 * reads — so the metadata still says `level: 1`.
 */
function zlibOptions(level: number, inputBytes: number): zlib.ZlibOptions {
  return { ...(level <= 1 ? { level: 1, strategy: zlib.constants.Z_RLE } : { level }), chunkSize: outputChunk(inputBytes + (inputBytes >> 3) + 1024) };
}

/**
 * Async zlib hands its output back to the main thread one `chunkSize` buffer at a time (16 KiB by
 * default): a 512 KiB plane took ~30 thread-pool round trips. Sizing the buffer to the whole
 * result makes it one.
 */
function outputChunk(expected: number): number {
  return Math.min(Math.max(expected, zlib.constants.Z_MIN_CHUNK, 64 * 1024), 64 * 1024 * 1024);
}

/** Compress one chunk's raw bytes. `none` returns the input unchanged (no copy). */
export async function compressChunk(raw: Uint8Array, compression: ZarrCompression, level: number): Promise<Uint8Array> {
  switch (compression) {
    case 'none':
      return raw;
    case 'gzip':
      return asBytes(await gzip(asBuffer(raw), zlibOptions(level, raw.byteLength)));
    case 'zlib':
      return asBytes(await deflate(asBuffer(raw), zlibOptions(level, raw.byteLength)));
  }
}

/** Inverse of `compressChunk`; `expectedBytes` (the decoded chunk size, when known) sizes the output buffer. */
export async function decompressChunk(stored: Uint8Array, compression: ZarrCompression, expectedBytes?: number): Promise<Uint8Array> {
  const opts = { chunkSize: outputChunk(expectedBytes ?? stored.byteLength * 4) };
  switch (compression) {
    case 'none':
      return stored;
    case 'gzip':
      return asBytes(await gunzip(asBuffer(stored), opts));
    case 'zlib':
      return asBytes(await inflate(asBuffer(stored), opts));
  }
}

interface BytesCodec {
  readonly kind: 'bytes_to_bytes';
  encode(bytes: Uint8Array): Promise<Uint8Array>;
  decode(bytes: Uint8Array): Promise<Uint8Array>;
}

function codecEntry(compression: 'gzip' | 'zlib') {
  return {
    kind: 'bytes_to_bytes' as const,
    fromConfig(config: unknown, meta?: { shape?: readonly number[]; dataType?: string }): BytesCodec {
      const raw = (config as { level?: unknown } | null)?.level;
      const level = typeof raw === 'number' && raw >= 0 && raw <= 9 ? raw : 6;
      const expected = decodedBytes(meta);
      return {
        kind: 'bytes_to_bytes',
        encode: (bytes) => compressChunk(bytes, compression, level),
        decode: (bytes) => decompressChunk(bytes, compression, expected),
      };
    },
  };
}

/** Bytes of one decoded chunk, from zarrita's chunk metadata (numeric types only). */
function decodedBytes(meta: { shape?: readonly number[]; dataType?: string } | undefined): number | undefined {
  const bits = /(\d+)$/.exec(meta?.dataType ?? '')?.[1];
  if (!meta?.shape || bits === undefined) return undefined;
  return meta.shape.reduce((a, b) => a * b, 1) * (Number(bits) / 8);
}

let registered = false;

/**
 * Makes zarrita use `node:zlib` for gzip and zlib (v3 names and the v2 `numcodecs.*` names).
 * Explicit rather than an import side effect; idempotent. Every zarr reader in plateflow calls it
 * before opening an array.
 */
export function registerNodeZlibCodecs(): void {
  if (registered) return;
  registered = true;
  const gz = codecEntry('gzip');
  const zl = codecEntry('zlib');
  // zarrita's registry is typed for numcodecs' Codec; ours has the same shape at runtime.
  const set = (name: string, entry: unknown) => registry.set(name, (() => entry) as never);
  set('gzip', gz);
  set('numcodecs.gzip', gz);
  set('zlib', zl);
  set('numcodecs.zlib', zl);
}
