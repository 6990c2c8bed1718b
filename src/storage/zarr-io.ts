/**
 * The small file operations Zarr writing needs: replace-by-rename writes, JSON reads that tell a
 * missing document from a broken one, and group documents for both format versions.
 *
 * Why chunks are renamed into place: resume trusts every chunk it finds, so a writer killed with
 * `kill -9` in the middle of a chunk must leave either the old chunk or the new one, never half of
 * one. A rename within one directory is atomic, so a reader (or a resumed run) sees whole files
 * only. Chunks are not fsynced by default — that protects against a killed *process*, which is
 * the failure resume is for, while an fsync per chunk would cost more than the compression;
 * `durable: true` adds the fsync for callers that must also survive power loss.
 *
 * @module
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, ZarrError } from '../errors.js';
import { tempName } from './atomic.js';
import { encodeJson, groupMetadataV2, groupMetadataV3, ZARR_JSON, ZARRAY, ZATTRS, ZGROUP, type ZarrVersion } from './zarr-format.js';

export interface WriteAtomicOptions {
  /** fsync the file before the rename. @defaultValue false */
  readonly durable?: boolean;
}

/** Temp files start with "." and end with ".tmp": discovery, zarr readers and globs ignore them. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/**
 * Write `data` to `file` by writing a temp file beside it and renaming it into place. The parent
 * directory must exist (callers create directories once, not per chunk).
 *
 * @throws StorageError (`E_STORAGE_IO`) on any I/O failure; the temp file is removed.
 */
export async function writeAtomic(file: string, data: Uint8Array, opts: WriteAtomicOptions = {}): Promise<void> {
  // The atomic.ts temp name, so the stale-temp sweep also clears a killed writer's chunks.
  const temp = path.join(path.dirname(file), tempName(path.basename(file)));
  let handle;
  try {
    handle = await open(temp, 'wx');
    await handle.writeFile(data);
    if (opts.durable) await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw new StorageError(file, `cannot write: ${(err as Error).message}`, { cause: err });
  }
}

/** `mkdir -p` with a StorageError naming the directory. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new StorageError(dir, `cannot create directory: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The parsed JSON document at `file`, or undefined when there is none.
 *
 * @throws ZarrError (`E_ZARR_INVALID`) when the file exists but is not a JSON object.
 * @throws StorageError (`E_STORAGE_IO`) when it cannot be read.
 */
export async function readJsonIfExists(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new StorageError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ZarrError(file, `not valid JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ZarrError(file, 'expected a JSON object');
  return value as Record<string, unknown>;
}

/** A Zarr group as found on disk: its format version and user attributes. */
export interface ZarrGroupInfo {
  readonly version: ZarrVersion;
  readonly attributes: Record<string, unknown>;
}

/**
 * Reads the group at `dir`: v3 when it holds `zarr.json` (with `node_type: "group"`), v2 when it
 * holds `.zgroup` (attributes from `.zattrs`); undefined when it holds neither.
 *
 * @throws ZarrError when the metadata is malformed or `dir` is an array, not a group.
 */
export async function readGroup(dir: string): Promise<ZarrGroupInfo | undefined> {
  const v3 = await readJsonIfExists(path.join(dir, ZARR_JSON));
  if (v3) {
    if (v3['node_type'] !== 'group') throw new ZarrError(dir, `expected a Zarr group, found node_type ${JSON.stringify(v3['node_type'])}`);
    const attributes = v3['attributes'];
    return { version: 3, attributes: isObject(attributes) ? attributes : {} };
  }
  const v2 = await readJsonIfExists(path.join(dir, ZGROUP));
  if (!v2) return undefined;
  return { version: 2, attributes: (await readJsonIfExists(path.join(dir, ZATTRS))) ?? {} };
}

/** Writes (or replaces) the group document(s) at `dir`, creating it. */
export async function writeGroup(dir: string, version: ZarrVersion, attributes: Record<string, unknown>, opts: WriteAtomicOptions = {}): Promise<void> {
  await ensureDir(dir);
  if (version === 3) {
    await writeAtomic(path.join(dir, ZARR_JSON), encodeJson(groupMetadataV3(attributes)), opts);
    return;
  }
  await writeAtomic(path.join(dir, ZGROUP), encodeJson(groupMetadataV2()), opts);
  await writeAtomic(path.join(dir, ZATTRS), encodeJson(attributes), opts);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Shape and data type of an array, from its metadata alone (no codec loading). */
export interface ZarrArrayHeader {
  readonly version: ZarrVersion;
  readonly shape: readonly number[];
  readonly chunks: readonly number[];
  /** zarr v3 data type name (`uint16`, `float32`, …); v2 dtypes are translated (`<u2` → `uint16`). */
  readonly dataType: string;
}

const V2_KIND: Readonly<Record<string, string>> = { u: 'uint', i: 'int', f: 'float' };

function v2DataType(dtype: unknown): string {
  const m = typeof dtype === 'string' ? /^[<>|=]?([uif])(\d+)$/.exec(dtype) : null;
  return m ? `${V2_KIND[m[1]!]}${Number(m[2]) * 8}` : String(dtype);
}

function positiveInts(value: unknown): number[] | undefined {
  return Array.isArray(value) && value.every((n) => Number.isInteger(n) && n >= 0) ? (value as number[]) : undefined;
}

/**
 * The header of the array at `dir`, or undefined when there is no array there.
 * @throws ZarrError when the metadata is malformed.
 */
export async function readArrayHeader(dir: string): Promise<ZarrArrayHeader | undefined> {
  const v3 = await readJsonIfExists(path.join(dir, ZARR_JSON));
  if (v3) {
    if (v3['node_type'] !== 'array') return undefined;
    const grid = v3['chunk_grid'] as { configuration?: { chunk_shape?: unknown } } | undefined;
    const shape = positiveInts(v3['shape']);
    const chunks = positiveInts(grid?.configuration?.chunk_shape);
    if (!shape || !chunks) throw new ZarrError(dir, 'zarr.json has no valid shape / chunk_shape');
    return { version: 3, shape, chunks, dataType: String(v3['data_type']) };
  }
  const v2 = await readJsonIfExists(path.join(dir, ZARRAY));
  if (!v2) return undefined;
  const shape = positiveInts(v2['shape']);
  const chunks = positiveInts(v2['chunks']);
  if (!shape || !chunks) throw new ZarrError(dir, '.zarray has no valid shape / chunks');
  return { version: 2, shape, chunks, dataType: v2DataType(v2['dtype']) };
}
