/**
 * Zarr on-disk metadata for the arrays and groups plateflow writes: v2 (`.zarray`, `.zgroup`,
 * `.zattrs`) and v3 (`zarr.json`), plus chunk keys. Pure functions, no I/O.
 *
 * What we write is deliberately narrow — C order, little-endian, no filters, a regular chunk grid,
 * `/`-separated chunk keys (NGFF 0.4 requires `dimension_separator: "/"`; v3 uses the default
 * `c/…` encoding with `/`), and gzip, zlib or no compression — because that subset is read by every
 * Zarr implementation (zarr-python 2 and 3, zarrita, tensorstore) without plugins. Reading goes
 * through zarrita and accepts far more (blosc, zstd, big-endian, F order, sharding).
 *
 * @module
 */
import type { DType } from '../image.js';

export type ZarrVersion = 2 | 3;

/** Compression of the chunks we write. `none` stores raw little-endian bytes. */
export type ZarrCompression = 'gzip' | 'zlib' | 'none';

export interface ZarrArraySpec {
  readonly shape: readonly number[];
  readonly chunks: readonly number[];
  readonly dtype: DType;
  /** @defaultValue 'gzip' */
  readonly compression?: ZarrCompression;
  /** 1 (fastest) … 9 (smallest). @defaultValue 1 */
  readonly level?: number;
  /** Axis names; written as v3 `dimension_names` (NGFF 0.5 wants them to match the axes). */
  readonly dimensionNames?: readonly string[];
}

/** The resolved form every writer uses. */
export interface ResolvedArraySpec extends ZarrArraySpec {
  readonly compression: ZarrCompression;
  readonly level: number;
}

export const V2_DTYPE: Readonly<Record<DType, string>> = Object.freeze({
  uint8: '|u1',
  int8: '|i1',
  uint16: '<u2',
  int16: '<i2',
  uint32: '<u4',
  int32: '<i4',
  float32: '<f4',
  float64: '<f8',
});

/** File names of Zarr metadata documents. */
export const ZARRAY = '.zarray';
export const ZGROUP = '.zgroup';
export const ZATTRS = '.zattrs';
export const ZARR_JSON = 'zarr.json';

export function resolveArraySpec(spec: ZarrArraySpec): ResolvedArraySpec {
  const { shape, chunks } = spec;
  if (shape.length === 0 || shape.length !== chunks.length) {
    throw new RangeError(`shape [${shape.join(', ')}] and chunks [${chunks.join(', ')}] must have the same, non-zero length`);
  }
  for (let i = 0; i < shape.length; i++) {
    if (!Number.isInteger(shape[i]) || shape[i]! < 1) throw new RangeError(`shape[${i}] must be a positive integer, got ${shape[i]}`);
    if (!Number.isInteger(chunks[i]) || chunks[i]! < 1) throw new RangeError(`chunks[${i}] must be a positive integer, got ${chunks[i]}`);
  }
  if (spec.dimensionNames !== undefined && spec.dimensionNames.length !== shape.length) {
    throw new RangeError(`dimensionNames has ${spec.dimensionNames.length} names for ${shape.length} dimensions`);
  }
  const level = spec.level ?? 1;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`compression level must be an integer from 1 to 9, got ${level}`);
  return { ...spec, compression: spec.compression ?? 'gzip', level };
}

/** `.zarray` of a v2 array. */
export function arrayMetadataV2(spec: ResolvedArraySpec): Record<string, unknown> {
  return {
    zarr_format: 2,
    shape: [...spec.shape],
    chunks: [...spec.chunks],
    dtype: V2_DTYPE[spec.dtype],
    compressor: spec.compression === 'none' ? null : { id: spec.compression, level: spec.level },
    fill_value: 0,
    order: 'C',
    filters: null,
    dimension_separator: '/',
  };
}

/** `zarr.json` of a v3 array. v3 has no core `zlib` codec, so `zlib` is written as `gzip`. */
export function arrayMetadataV3(spec: ResolvedArraySpec, attributes: Record<string, unknown> = {}): Record<string, unknown> {
  const codecs: Record<string, unknown>[] = [{ name: 'bytes', configuration: { endian: 'little' } }];
  if (spec.compression !== 'none') codecs.push({ name: 'gzip', configuration: { level: spec.level } });
  return {
    zarr_format: 3,
    node_type: 'array',
    shape: [...spec.shape],
    data_type: spec.dtype,
    chunk_grid: { name: 'regular', configuration: { chunk_shape: [...spec.chunks] } },
    chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
    fill_value: 0,
    codecs,
    attributes,
    ...(spec.dimensionNames ? { dimension_names: [...spec.dimensionNames] } : {}),
  };
}

export function groupMetadataV2(): Record<string, unknown> {
  return { zarr_format: 2 };
}

export function groupMetadataV3(attributes: Record<string, unknown>): Record<string, unknown> {
  return { zarr_format: 3, node_type: 'group', attributes };
}

/** The compression v3 actually stores for `spec` (see `arrayMetadataV3`). */
export function storedCompression(version: ZarrVersion, compression: ZarrCompression): ZarrCompression {
  return version === 3 && compression === 'zlib' ? 'gzip' : compression;
}

/** Key of a chunk relative to its array: v2 `t/c/z/y/x` (separator `/`), v3 `c/t/c/z/y/x`. */
export function chunkKey(version: ZarrVersion, coords: readonly number[]): string {
  return version === 2 ? coords.join('/') : `c/${coords.join('/')}`;
}

/** JSON as Zarr implementations write it (indented, trailing newline), as bytes. */
export function encodeJson(value: unknown): Uint8Array {
  // Non-ASCII as \u escapes, as Python's json writes it: zarr-python 2 decodes metadata as ASCII,
  // and a channel named "Alexa 488 µ" must not make a plate unreadable there.
  const text = JSON.stringify(value, null, 2).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new TextEncoder().encode(text + '\n');
}
