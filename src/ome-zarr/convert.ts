/**
 * `convertPlate`: any plate plateflow can discover (ImageXpress, Opera Phenix, ArrayScan, a
 * pattern, plateflow's TIFF output, another OME-Zarr plate) → an OME-Zarr plate.
 *
 * One position per (well, site), each a TCZYX array over the plate-wide sorted timepoint,
 * channel and z values, so every position has the same shape (a plane the source lacks stays at
 * the fill value 0 and is counted in `missing`). The source's component values are kept in the
 * `plateflow` image attributes, so discovering the converted plate gives back the same components.
 * What the source's metadata says (channel names, voxel size, field positions) goes into the
 * `omero` labels and each level's scale and translation; every position gets the same number of
 * multiscale levels (`pyramid.ts`).
 *
 * All metadata is written first (by this coordinator, once); positions are then filled in
 * parallel — TIFF reads and zlib compression overlap on the libuv pool — with a progress callback
 * per plane.
 *
 * @module
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { naturalCompare } from '../components/natural-sort.js';
import { parseWell } from '../components/wells.js';
import { AbortError, ConfigError } from '../errors.js';
import { discoverPlate, type DiscoverOptions } from '../microscopes/discover.js';
import type { ImageRecord, PixelSize, PlateIndex } from '../microscopes/types.js';
import { mapLimit } from './concurrency.js';
import { availableCpus } from '../execution/resources/cpus.js';
import type { PositionSpec } from './layout.js';
import type { NgffVersion } from './ngff.js';
import { OmeZarrPlateWriter, type PlateWriteOptions } from './plate-writer.js';
import { levelCount } from './pyramid.js';
import { planeReader } from './source-planes.js';

export interface ConvertProgress {
  readonly done: number;
  readonly total: number;
  /** Well and site of the plane just written. */
  readonly well: string;
  readonly site: string;
}

export interface ConvertOptions extends PlateWriteOptions {
  /** How to discover the source when it is given as a folder. */
  readonly discover?: DiscoverOptions;
  /** Positions converted at once. @defaultValue 2 × available CPUs */
  readonly concurrency?: number;
  /** Multiscale levels per position (2× means in y and x). @defaultValue enough for the last level to be below 1024 pixels a side */
  readonly levels?: number;
  readonly onProgress?: (progress: ConvertProgress) => void;
  readonly signal?: AbortSignal;
}

export interface ConvertResult {
  readonly source: string;
  readonly sourceFormat: string;
  readonly out: string;
  readonly ngff: NgffVersion;
  readonly positions: number;
  /** Multiscale levels per position. */
  readonly levels: number;
  /** Voxel size written into the multiscales, when the source said. */
  readonly pixelSize?: PixelSize;
  /** Planes written. */
  readonly planes: number;
  /** Planes of the TCZ grid the source did not have (left at 0). */
  readonly missing: number;
  readonly seconds: number;
}

interface PositionJob {
  readonly well: string;
  readonly site: string;
  readonly field: string;
  readonly records: readonly ImageRecord[];
}

/**
 * Converts `source` (a plate folder, or a `PlateIndex` already discovered) into an OME-Zarr plate
 * at `out`.
 *
 * @throws DiscoveryError / ConfigError from discovery; ConfigError (`E_CONFIG_INVALID`) when `out`
 *   exists (without `overwrite`), a well value is not a well id, or images differ in size or dtype.
 * @throws TiffError, StorageError, ZarrError from reading and writing; AbortError when aborted.
 */
export async function convertPlate(source: string | PlateIndex, out: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const started = performance.now();
  const plate = typeof source === 'string' ? await discoverPlate(source, opts.discover) : source;
  const outAbs = path.resolve(out);
  if (isInside(outAbs, plate.root)) throw new ConfigError(`the output ${outAbs} must not be inside the source plate ${plate.root}`, { path: outAbs });
  const timepoints = plate.components['timepoint'] ?? ['1'];
  const channels = plate.components['channel'] ?? ['1'];
  const zs = plate.components['z'] ?? ['1'];
  const jobs = positionJobs(plate);

  const reader = planeReader(plate);
  try {
    const first = await reader.read(plate.images[0]!, opts.signal);
    const [, y, x] = first.shape;
    const dtype = first.dtype;
    const acquisition = plate.acquisition;
    const names = acquisition?.channels ?? {};
    let levels: number;
    try {
      levels = levelCount(y, x, opts.levels);
    } catch (err) {
      throw new ConfigError((err as Error).message, { option: 'levels' });
    }
    const specs: PositionSpec[] = jobs.map((j) => ({
      well: j.well,
      field: j.field,
      shape: { t: timepoints.length, c: channels.length, z: zs.length, y, x },
      dtype,
      channelLabels: channels.map((c) => names[c] ?? c),
      levels,
      ...(acquisition?.pixelSize ? { pixelSize: acquisition.pixelSize } : {}),
      ...(acquisition?.sites?.[j.site] ? { origin: { ...acquisition.sites[j.site], ...(acquisition.planes?.[zs[0]!] !== undefined ? { z: acquisition.planes[zs[0]!] } : {}) } } : {}),
      plateflow: { well: j.well, site: j.site, timepoints: [...timepoints], channels: [...channels], z: [...zs], source: plate.format },
    }));
    const writer = await OmeZarrPlateWriter.create(outAbs, specs, opts);

    const index = (values: readonly string[], v: string | undefined) => Math.max(0, values.indexOf(v ?? '1'));
    const total = plate.images.length;
    let done = 0;
    const concurrency = opts.concurrency ?? 2 * availableCpus();
    await mapLimit(
      jobs,
      concurrency,
      async (job) => {
        // Pages of one multi-page file are consecutive records; read the file once per position.
        for (const record of job.records) {
          if (opts.signal?.aborted) throw new AbortError(opts.signal.reason);
          const stack = await reader.read(record, opts.signal);
          if (stack.dtype !== dtype || stack.shape[1] !== y || stack.shape[2] !== x) {
            throw new ConfigError(
              `${record.path}${record.page !== undefined ? ` page ${record.page}` : ''} is ${stack.dtype} ${stack.shape[1]}×${stack.shape[2]}, but the plate's first image is ${dtype} ${y}×${x}; an OME-Zarr plate needs one size and dtype`,
              { file: record.path },
            );
          }
          const c = record.components;
          await writer.writePlane(job.well, job.field, { t: index(timepoints, c['timepoint']), c: index(channels, c['channel']), z: index(zs, c['z']) }, stack.data);
          opts.onProgress?.({ done: ++done, total, well: job.well, site: job.site });
        }
        for (const record of job.records) reader.forget(record.path);
      },
      opts.signal,
    );
    const planes = jobs.length * timepoints.length * channels.length * zs.length;
    return {
      source: plate.root,
      sourceFormat: plate.format,
      out: outAbs,
      ngff: writer.ngff,
      positions: jobs.length,
      levels,
      ...(acquisition?.pixelSize ? { pixelSize: acquisition.pixelSize } : {}),
      planes: total,
      missing: planes - total,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof AbortError)) throw new AbortError(opts.signal.reason);
    throw err;
  } finally {
    await reader.close();
  }
}

/** One job per (well, site); fields numbered `0`, `1`, … in the plate's site order within each well. */
function positionJobs(plate: PlateIndex): PositionJob[] {
  const byPosition = new Map<string, { well: string; site: string; records: ImageRecord[] }>();
  for (const r of plate.images) {
    const well = r.components['well'];
    if (well === undefined || !parseWell(well)) {
      throw new ConfigError(`image ${r.path} has well ${JSON.stringify(well)}, which is not a well id; an OME-Zarr plate needs row/column wells`, { file: r.path });
    }
    const site = r.components['site'] ?? '1';
    const key = `${well}\u0000${site}`;
    let entry = byPosition.get(key);
    if (!entry) byPosition.set(key, (entry = { well, site, records: [] }));
    entry.records.push(r);
  }
  const siteOrder = plate.components['site'] ?? ['1'];
  const positions = [...byPosition.values()].sort((a, b) => naturalCompare(a.well, b.well) || siteOrder.indexOf(a.site) - siteOrder.indexOf(b.site));
  const fieldsSeen = new Map<string, number>();
  return positions.map((p) => {
    const n = fieldsSeen.get(p.well) ?? 0;
    fieldsSeen.set(p.well, n + 1);
    return { well: p.well, site: p.site, field: String(n), records: p.records };
  });
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** One line for people: what was converted, where, how much, how fast. */
export function describeConvert(r: ConvertResult): string {
  const scale = r.pixelSize ? `, ${r.pixelSize.x} × ${r.pixelSize.y}${r.pixelSize.z !== undefined ? ` × ${r.pixelSize.z}` : ''} µm` : '';
  return `${r.sourceFormat} plate ${r.source} → OME-Zarr ${r.ngff} ${r.out}: ${r.positions} positions × ${r.levels} level${r.levels === 1 ? '' : 's'}${scale}, ${r.planes} planes${r.missing > 0 ? ` (${r.missing} missing, left at 0)` : ''} in ${r.seconds.toFixed(2)} s`;
}
