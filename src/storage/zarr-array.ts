/**
 * One Zarr array of images: N leading dimensions (for OME-Zarr: t, c, z) over Y×X planes.
 *
 * Reads go through zarrita, so any array another tool wrote (v2 or v3, blosc, zstd, big-endian,
 * F order, sharded) can be read. Writes are ours: a plane is split into its chunks, each encoded
 * (little-endian bytes, then gzip/zlib on the libuv pool) and renamed into place (see
 * `zarr-io.ts`), which zarrita 0.7 cannot do (no gzip encoder, no v2 creation). We only write
 * arrays whose codecs we can produce; `writePlane` on anything else throws `ZarrError`.
 *
 * ```
 * chunk grid of one plane (chunks [1, 1, 1, cy, cx] over shape [T, C, Z, Y, X]):
 *   ┌──────┬──────┬───┐   y-chunk 0   every chunk file holds cy×cx pixels; the edge chunks are
 *   │ 0,0  │ 0,1  │0,2│               padded with the fill value (0) as the spec requires
 *   ├──────┼──────┼───┤   y-chunk 1
 *   │ 1,0  │ 1,1  │1,2│
 *   └──────┴──────┴───┘
 * ```
 *
 * @module
 */
import path from 'node:path';
import { FileSystemStore } from '@zarrita/storage';
import * as zarr from 'zarrita';
import { AbortError, ZarrError } from '../errors.js';
import { allocate, DTYPES, type DType, type PixelArray } from '../image.js';
import { compressChunk, registerNodeZlibCodecs } from './zarr-codecs.js';
import {
  arrayMetadataV2,
  arrayMetadataV3,
  encodeJson,
  resolveArraySpec,
  V2_DTYPE,
  ZARR_JSON,
  ZARRAY,
  ZATTRS,
  type ZarrArraySpec,
  type ZarrCompression,
  type ZarrVersion,
} from './zarr-format.js';
import { ensureDir, readJsonIfExists, writeAtomic, type WriteAtomicOptions } from './zarr-io.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** How we can write an existing array's chunks; undefined when we cannot. */
interface WriteCodec {
  readonly compression: ZarrCompression;
  readonly level: number;
  /** Chunk key of chunk coordinates, relative to the array directory. */
  readonly key: (coords: readonly number[]) => string;
}

export interface CreateArrayOptions extends WriteAtomicOptions {
  readonly version: ZarrVersion;
  /** v3: stored in `zarr.json`; v2: in `.zattrs`. */
  readonly attributes?: Record<string, unknown>;
}

export interface ReadOptions {
  readonly signal?: AbortSignal;
}

type ZarritaArray = zarr.Array<zarr.DataType, FileSystemStore>;

export class ZarrArray {
  readonly dir: string;
  readonly version: ZarrVersion;
  readonly shape: readonly number[];
  readonly chunks: readonly number[];
  readonly dtype: DType;
  readonly #reader: ZarritaArray;
  readonly #writer: WriteCodec | undefined;
  readonly #why: string;
  readonly #madeDirs = new Set<string>();
  readonly #durable: boolean;

  private constructor(dir: string, version: ZarrVersion, reader: ZarritaArray, writer: WriteCodec | undefined, why: string, durable: boolean) {
    this.dir = dir;
    this.version = version;
    this.#reader = reader;
    this.shape = Object.freeze([...reader.shape]);
    this.chunks = Object.freeze([...reader.chunks]);
    const dtype = reader.dtype as string;
    if (!(DTYPES as readonly string[]).includes(dtype)) {
      throw new ZarrError(dir, `data type ${dtype} is not one plateflow images hold (${DTYPES.join(', ')})`);
    }
    if (this.shape.length < 2) throw new ZarrError(dir, `an image array needs at least 2 dimensions (y, x), found ${this.shape.length}`);
    this.dtype = dtype as DType;
    this.#writer = writer;
    this.#why = why;
    this.#durable = durable;
  }

  /**
   * Opens the array at `dir` (v3 if it holds `zarr.json`, else v2).
   *
   * @throws ZarrError (`E_ZARR_INVALID`) when there is no array there, its metadata is malformed,
   *   or its data type is not an image dtype.
   */
  static async open(dir: string, opts: WriteAtomicOptions = {}): Promise<ZarrArray> {
    registerNodeZlibCodecs();
    const abs = path.resolve(dir);
    const v3 = await readJsonIfExists(path.join(abs, ZARR_JSON));
    const v2 = v3 ? undefined : await readJsonIfExists(path.join(abs, ZARRAY));
    if (!v3 && !v2) throw new ZarrError(abs, `no Zarr array here (neither ${ZARR_JSON} nor ${ZARRAY})`);
    if (v3 && v3['node_type'] !== 'array') throw new ZarrError(abs, `expected a Zarr array, found node_type ${JSON.stringify(v3['node_type'])}`);
    const version: ZarrVersion = v3 ? 3 : 2;
    let reader: ZarritaArray;
    try {
      const store = new FileSystemStore(abs);
      reader = version === 3 ? await zarr.open.v3(store, { kind: 'array' }) : await zarr.open.v2(store, { kind: 'array', attrs: false });
    } catch (err) {
      throw new ZarrError(abs, `cannot open the array: ${(err as Error).message}`, {}, { cause: err });
    }
    const plan = version === 3 ? writeCodecV3(v3!) : writeCodecV2(v2!);
    return new ZarrArray(abs, version, reader, plan.codec, plan.why, opts.durable === true);
  }

  /** Creates (or replaces the metadata of) an array at `dir` and opens it. Existing chunks are kept. */
  static async create(dir: string, spec: ZarrArraySpec, opts: CreateArrayOptions): Promise<ZarrArray> {
    const abs = path.resolve(dir);
    const resolved = resolveArraySpec(spec);
    await ensureDir(abs);
    if (opts.version === 3) {
      await writeAtomic(path.join(abs, ZARR_JSON), encodeJson(arrayMetadataV3(resolved, opts.attributes ?? {})), opts);
    } else {
      await writeAtomic(path.join(abs, ZARRAY), encodeJson(arrayMetadataV2(resolved)), opts);
      if (opts.attributes && Object.keys(opts.attributes).length > 0) await writeAtomic(path.join(abs, ZATTRS), encodeJson(opts.attributes), opts);
    }
    return ZarrArray.open(abs, opts);
  }

  /** Number of leading (non-YX) dimensions. */
  get leadingDims(): number {
    return this.shape.length - 2;
  }

  get height(): number {
    return this.shape[this.shape.length - 2]!;
  }

  get width(): number {
    return this.shape[this.shape.length - 1]!;
  }

  /** Number of Y×X planes (the product of the leading dimensions). */
  get planeCount(): number {
    return this.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  }

  /** Leading-dimension coordinates of plane `page` (C order: the last leading dimension varies fastest). */
  planeCoords(page: number): number[] {
    if (!Number.isInteger(page) || page < 0 || page >= this.planeCount) {
      throw new ZarrError(this.dir, `plane ${page} is out of range (the array has ${this.planeCount} planes)`);
    }
    const coords = new Array<number>(this.leadingDims);
    let rest = page;
    for (let d = this.leadingDims - 1; d >= 0; d--) {
      coords[d] = rest % this.shape[d]!;
      rest = Math.floor(rest / this.shape[d]!);
    }
    return coords;
  }

  /** Inverse of `planeCoords`. */
  planeIndex(coords: readonly number[]): number {
    this.#checkCoords(coords);
    let page = 0;
    for (let d = 0; d < this.leadingDims; d++) page = page * this.shape[d]! + coords[d]!;
    return page;
  }

  /** Why `writePlane` would fail, or undefined when this array can be written. */
  get notWritableReason(): string | undefined {
    return this.#writer ? undefined : this.#why;
  }

  /**
   * The Y×X plane at leading coordinates `coords`, as a new C-order typed array. Missing chunks
   * read as the fill value.
   *
   * @throws ZarrError for coordinates out of range or a chunk that cannot be decoded.
   * @throws AbortError (`E_ABORTED`) when `signal` is aborted.
   */
  async readPlane(coords: readonly number[], opts: ReadOptions = {}): Promise<PixelArray> {
    this.#checkCoords(coords);
    if (opts.signal?.aborted) throw new AbortError(opts.signal.reason);
    const [cy, cx] = this.chunks.slice(-2) as [number, number];
    const single = this.chunks.slice(0, -2).every((c) => c === 1) && cy === this.height && cx === this.width;
    try {
      if (single) {
        const chunk = await this.#reader.getChunk([...coords, 0, 0], opts.signal ? { signal: opts.signal } : undefined);
        return this.#cOrder(chunk.data as PixelArray, chunk.stride.slice(-2) as [number, number]);
      }
      const out = await zarr.get(this.#reader, [...coords, null, null], opts.signal ? { signal: opts.signal } : {});
      return this.#cOrder(out.data as PixelArray, out.stride as [number, number]);
    } catch (err) {
      if (opts.signal?.aborted) throw new AbortError(opts.signal.reason);
      throw new ZarrError(this.dir, `cannot read plane [${coords.join(', ')}]: ${(err as Error).message}`, { plane: [...coords] }, { cause: err });
    }
  }

  /**
   * Writes one Y×X plane (length height×width, this array's dtype) at leading coordinates
   * `coords`. Each chunk the plane touches must lie within that plane (leading chunk sizes 1).
   *
   * @throws ZarrError when this array's codecs or chunking cannot be written, or the data does not fit.
   * @throws StorageError (`E_STORAGE_IO`) when a chunk file cannot be written.
   */
  async writePlane(coords: readonly number[], data: PixelArray): Promise<void> {
    const writer = this.#writer;
    if (!writer) throw new ZarrError(this.dir, `cannot write: ${this.#why}`);
    this.#checkCoords(coords);
    if (!this.chunks.slice(0, -2).every((c) => c === 1)) {
      throw new ZarrError(this.dir, `cannot write single planes into chunks [${this.chunks.join(', ')}]; leading chunk sizes must be 1`);
    }
    if (data.length !== this.height * this.width) throw new ZarrError(this.dir, `a plane has ${this.height}×${this.width} pixels, got ${data.length}`);
    if (allocate(this.dtype, 0).constructor !== data.constructor) throw new ZarrError(this.dir, `array dtype is ${this.dtype}, data is a ${data.constructor.name}`);
    const [cy, cx] = this.chunks.slice(-2) as [number, number];
    const jobs: Promise<void>[] = [];
    for (let y0 = 0, iy = 0; y0 < this.height; y0 += cy, iy++) {
      for (let x0 = 0, ix = 0; x0 < this.width; x0 += cx, ix++) {
        const tile = cy === this.height && cx === this.width ? data : this.#tile(data, y0, x0, cy, cx);
        jobs.push(this.#writeChunk(writer, [...coords, iy, ix], tile));
      }
    }
    await Promise.all(jobs);
  }

  /**
   * The chunk files (paths relative to the array directory, `/`-separated) that `writePlane(coords)`
   * writes, so a caller can tell its own chunks from stale ones.
   * @throws ZarrError as `writePlane` does for an array it cannot write or coordinates out of range.
   */
  planeChunkKeys(coords: readonly number[]): string[] {
    const writer = this.#writer;
    if (!writer) throw new ZarrError(this.dir, `cannot write: ${this.#why}`);
    this.#checkCoords(coords);
    const [cy, cx] = this.chunks.slice(-2) as [number, number];
    const keys: string[] = [];
    for (let iy = 0; iy * cy < this.height; iy++) for (let ix = 0; ix * cx < this.width; ix++) keys.push(writer.key([...coords, iy, ix]));
    return keys;
  }

  /** zarrita hands back data in the array's own order; F-order (transposed) planes are copied into C order. */
  #cOrder(data: PixelArray, [sy, sx]: [number, number]): PixelArray {
    if (sx === 1 && sy === this.width) return data;
    const out = allocate(this.dtype, this.height * this.width);
    for (let y = 0; y < this.height; y++) for (let x = 0; x < this.width; x++) out[y * this.width + x] = data[y * sy + x * sx]!;
    return out;
  }

  #tile(data: PixelArray, y0: number, x0: number, cy: number, cx: number): PixelArray {
    const tile = allocate(this.dtype, cy * cx);
    const rows = Math.min(cy, this.height - y0);
    const cols = Math.min(cx, this.width - x0);
    for (let r = 0; r < rows; r++) {
      const from = (y0 + r) * this.width + x0;
      (tile as PixelArray).set(data.subarray(from, from + cols) as never, r * cx);
    }
    return tile;
  }

  async #writeChunk(writer: WriteCodec, chunkCoords: readonly number[], tile: PixelArray): Promise<void> {
    const raw = new Uint8Array(tile.buffer, tile.byteOffset, tile.byteLength);
    const stored = await compressChunk(raw, writer.compression, writer.level);
    const file = path.join(this.dir, writer.key(chunkCoords));
    const dir = path.dirname(file);
    if (!this.#madeDirs.has(dir)) {
      await ensureDir(dir);
      this.#madeDirs.add(dir);
    }
    await writeAtomic(file, stored, { durable: this.#durable });
  }

  #checkCoords(coords: readonly number[]): void {
    if (coords.length !== this.leadingDims || coords.some((c, d) => !Number.isInteger(c) || c < 0 || c >= this.shape[d]!)) {
      throw new ZarrError(this.dir, `plane [${coords.join(', ')}] is out of range for shape [${this.shape.join(', ')}]`);
    }
  }
}

interface WritePlan {
  readonly codec: WriteCodec | undefined;
  readonly why: string;
}

const no = (why: string): WritePlan => ({ codec: undefined, why });

function levelOf(config: unknown): number {
  const level = (config as { level?: unknown } | null)?.level;
  return typeof level === 'number' && Number.isInteger(level) && level >= 0 && level <= 9 ? Math.max(1, level) : 6;
}

function writeCodecV2(meta: Record<string, unknown>): WritePlan {
  if (!HOST_LITTLE_ENDIAN) return no('this machine is big-endian');
  if (!Object.values(V2_DTYPE).includes(meta['dtype'] as string)) return no(`dtype ${JSON.stringify(meta['dtype'])} is not a little-endian image dtype`);
  if (meta['order'] !== undefined && meta['order'] !== 'C') return no(`order ${JSON.stringify(meta['order'])} (only C is written)`);
  const filters = meta['filters'];
  if (filters !== null && filters !== undefined && !(Array.isArray(filters) && filters.length === 0)) return no('filters are not written');
  const compressor = meta['compressor'] as { id?: unknown } | null | undefined;
  let compression: ZarrCompression;
  if (compressor === null || compressor === undefined) compression = 'none';
  else if (compressor.id === 'gzip' || compressor.id === 'zlib') compression = compressor.id;
  else return no(`compressor ${JSON.stringify(compressor.id)} is read-only here (gzip, zlib or none are written)`);
  const sep = meta['dimension_separator'] === '/' ? '/' : '.';
  return { codec: { compression, level: levelOf(compressor), key: (c) => c.join(sep) }, why: '' };
}

function writeCodecV3(meta: Record<string, unknown>): WritePlan {
  if (!HOST_LITTLE_ENDIAN) return no('this machine is big-endian');
  const grid = meta['chunk_grid'] as { name?: unknown } | undefined;
  if (grid?.name !== 'regular') return no(`chunk grid ${JSON.stringify(grid?.name)} (only regular is written)`);
  const codecs = Array.isArray(meta['codecs']) ? (meta['codecs'] as { name?: unknown; configuration?: { endian?: unknown; level?: unknown } }[]) : [];
  const [bytes, compressor, ...rest] = codecs;
  if (bytes?.name !== 'bytes' || (bytes.configuration?.endian !== undefined && bytes.configuration.endian !== 'little') || rest.length > 0) {
    return no(`codecs ${JSON.stringify(codecs.map((c) => c.name))} (only bytes(little) + optional gzip are written)`);
  }
  if (compressor !== undefined && compressor.name !== 'gzip') return no(`codec ${JSON.stringify(compressor.name)} is read-only here (gzip or none are written)`);
  const encoding = meta['chunk_key_encoding'] as { name?: unknown; configuration?: { separator?: unknown } } | undefined;
  const name = encoding?.name ?? 'default';
  const sep = encoding?.configuration?.separator === '.' ? '.' : name === 'v2' && encoding?.configuration?.separator !== '/' ? '.' : '/';
  if (name !== 'default' && name !== 'v2') return no(`chunk key encoding ${JSON.stringify(name)}`);
  const key = name === 'default' ? (c: readonly number[]) => ['c', ...c].join(sep) : (c: readonly number[]) => c.join(sep);
  return { codec: { compression: compressor ? 'gzip' : 'none', level: levelOf(compressor?.configuration), key }, why: '' };
}
