/**
 * Readers for the golden fixtures written by make_golden.py, and a minimal TIFF reader for the
 * uncompressed, strip-organised single-page files of the BBBC016 ArrayScan sample (so these tests do
 * not depend on the storage module).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DTYPES, viewOf, type DType, type ImageStack, type PixelArray } from '../../src/image.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIR = path.resolve(HERE, '..', 'fixtures', 'golden');
export const ARRAYSCAN_DIR = path.resolve(HERE, '..', '..', '..', 'shared', 'data', 'bbbc016-arrayscan');

export interface ArrayEntry {
  readonly file: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export interface OtsuRecord {
  readonly threshold: number;
  readonly bin_width: number;
  readonly above: number;
}

export interface GaussianRecord {
  readonly sigma: number;
  readonly truncate: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly otsu: OtsuRecord;
  readonly output?: ArrayEntry;
  readonly crops?: readonly (ArrayEntry & { y: number; x: number })[];
}

export interface SegmentRecord {
  readonly labels: number;
  readonly objects_min20: number;
  readonly foreground: number;
  readonly label_image?: ArrayEntry;
}

export interface CaseRecord {
  readonly name: string;
  readonly input: ArrayEntry & { source?: string; sum?: number };
  readonly range: number;
  readonly gaussian: readonly GaussianRecord[];
  readonly otsu_input: OtsuRecord;
  readonly otsu_input_bins: Readonly<Record<string, OtsuRecord>>;
  readonly segment: Readonly<Record<'4' | '8', SegmentRecord>>;
  readonly percentiles: { readonly q: readonly number[]; readonly input: readonly number[]; readonly blurred2: readonly number[] };
}

export interface MaskRecord {
  readonly name: string;
  readonly input: ArrayEntry;
  readonly '4': { labels: number; label_image: ArrayEntry; objects: Record<string, number> };
  readonly '8': { labels: number; label_image: ArrayEntry; objects: Record<string, number> };
}

export interface Manifest {
  readonly versions: Record<string, string>;
  readonly min_size: number;
  readonly cases: readonly CaseRecord[];
  readonly masks: readonly MaskRecord[];
  readonly real?: CaseRecord;
}

export interface ArrayscanCounts {
  readonly min_size: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly images: readonly {
    file: string;
    well: string;
    site: number;
    threshold: number;
    foreground: number;
    labels: number;
    count: number;
  }[];
}

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'manifest.json'), 'utf8')) as Manifest;
}

export function readArrayscanCounts(): ArrayscanCounts {
  return JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'arrayscan_counts.json'), 'utf8')) as ArrayscanCounts;
}

const NUMPY_DTYPES: Record<string, DType> = Object.fromEntries(DTYPES.map((d) => [d, d]));

/** The array in `entry` (little-endian raw file) as a typed array; this machine is little-endian. */
export function readArray(entry: ArrayEntry): PixelArray {
  const dtype = NUMPY_DTYPES[entry.dtype];
  if (!dtype) throw new Error(`golden dtype ${entry.dtype} not supported`);
  const bytes = readFileSync(path.join(GOLDEN_DIR, entry.file));
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const arr = viewOf(dtype, copy.buffer, 0, n);
  if (arr.byteLength !== bytes.byteLength) throw new Error(`${entry.file}: ${bytes.byteLength} bytes for shape ${entry.shape}`);
  return arr;
}

/** A 2-D golden array as a one-plane stack. */
export function readStack(entry: ArrayEntry): ImageStack {
  const [h, w] = entry.shape as [number, number];
  const data = readArray(entry);
  return { dtype: NUMPY_DTYPES[entry.dtype]!, shape: [1, h, w], data } as ImageStack;
}

export function arrayscanAvailable(): boolean {
  return existsSync(ARRAYSCAN_DIR);
}

/** Minimal reader: first page of an uncompressed, chunky, strip-organised 8/16-bit grayscale TIFF. */
export function readSimpleTiff(file: string): ImageStack {
  const buf = readFileSync(file);
  const le = buf.toString('latin1', 0, 2) === 'II';
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u16(2) !== 42) throw new Error(`${file}: not a classic TIFF`);
  const ifd = u32(4);
  const count = u16(ifd);
  const tags = new Map<number, number[]>();
  const sizes: Record<number, number> = { 1: 1, 3: 2, 4: 4 };
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = u16(e);
    const type = u16(e + 2);
    const n = u32(e + 4);
    const size = sizes[type];
    if (size === undefined) continue;
    const at = n * size <= 4 ? e + 8 : u32(e + 8);
    const values: number[] = [];
    for (let k = 0; k < n; k++) values.push(size === 1 ? buf[at + k]! : size === 2 ? u16(at + 2 * k) : u32(at + 4 * k));
    tags.set(tag, values);
  }
  const w = tags.get(256)![0]!;
  const h = tags.get(257)![0]!;
  const bits = tags.get(258)?.[0] ?? 1;
  if ((tags.get(259)?.[0] ?? 1) !== 1) throw new Error(`${file}: compressed`);
  if ((tags.get(277)?.[0] ?? 1) !== 1) throw new Error(`${file}: not grayscale`);
  const offsets = tags.get(273)!;
  const counts = tags.get(279)!;
  const raw = new Uint8Array(w * h * (bits / 8));
  let pos = 0;
  for (let s = 0; s < offsets.length; s++) {
    const len = Math.min(counts[s]!, raw.length - pos);
    raw.set(buf.subarray(offsets[s]!, offsets[s]! + len), pos);
    pos += len;
  }
  if (bits === 8) return { dtype: 'uint8', shape: [1, h, w], data: raw };
  if (bits !== 16) throw new Error(`${file}: ${bits} bits per sample`);
  const data = new Uint16Array(w * h);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) data[i] = view.getUint16(2 * i, le);
  return { dtype: 'uint16', shape: [1, h, w], data };
}
