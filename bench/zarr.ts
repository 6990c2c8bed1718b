/**
 * OME-Zarr output vs TIFF output of the same plate, in the same run.
 *
 *   npm run bench:zarr -- [--plate <dir>] [--reps 5] [--ngff 0.4|0.5] [--concurrency N]
 *
 * Plate: the 576-image reference plate of DESIGN §5 (24 wells × 4 sites × 2 channels × 3 z,
 * 512² uint16), synthesized into a temp folder unless `--plate` names one. It is discovered once;
 * both paths then read every plane with the same reader and the same concurrency:
 *
 * - zarr: `convertPlate` → an NGFF plate (default 0.4, gzip level 1, one chunk per plane);
 * - tiff: every plane written as a TIFF with `writeTiff`, named as plateflow output names it — what
 *   a pipeline's disk step does (uncompressed; temp file, fsync, rename, directory fsync).
 *
 * Repetitions alternate the order of the paths; each repetition runs them back to back, so its
 * zarr ÷ tiff ratio is measured under the same machine load, and the headline is the median of
 * those per-repetition ratios (robust to other jobs on a shared machine; best times are printed too). For reference the zarr path is also timed with `durable: true` (fsync per
 * chunk, the TIFF writer's durability) and uncompressed (the format's own cost). The last line is
 *
 *   zarr_vs_tiff=<median over repetitions of zarr seconds ÷ tiff seconds>
 *
 * so below 1 means OME-Zarr output is faster. Runs the compiled library from dist/.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type * as Discover from '../dist/microscopes/discover.js';
import type * as Naming from '../dist/storage/output-naming.js';
import type * as Concurrency from '../dist/ome-zarr/concurrency.js';
import type * as OmeZarr from '../dist/ome-zarr/index.js';
import type * as Sources from '../dist/ome-zarr/source-planes.js';
import type * as Resources from '../dist/execution/resources/cpus.js';
import type * as Synth from '../dist/synth/plate.js';
import type * as TiffWrite from '../dist/storage/tiff-write.js';
import { packageRoot } from './lib.js';


const ROOT = packageRoot();
const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(path.join(ROOT, 'dist', rel)).href)) as T;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name))).size;
  return total;
}

async function main(): Promise<void> {
  const { discoverPlate } = await load<typeof Discover>('microscopes/discover.js');
  const { outputFileName } = await load<typeof Naming>('storage/output-naming.js');
  const { mapLimit } = await load<typeof Concurrency>('ome-zarr/concurrency.js');
  const { convertPlate, parseNgffVersion } = await load<typeof OmeZarr>('ome-zarr/index.js');
  const { planeReader } = await load<typeof Sources>('ome-zarr/source-planes.js');
  const { availableCpus } = await load<typeof Resources>('execution/resources/cpus.js');
  const { synthesizePlate } = await load<typeof Synth>('synth/plate.js');
  const { writeTiff } = await load<typeof TiffWrite>('storage/tiff-write.js');

  const reps = Number(flag('reps', '5'));
  const ngff = parseNgffVersion(flag('ngff', '0.4'));
  const concurrency = Number(flag('concurrency', String(2 * availableCpus())));
  const work = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-zarr-'));
  try {
    let plateDir = flag('plate', '');
    if (plateDir === '') {
      plateDir = path.join(work, 'plate');
      const t = performance.now();
      const s = await synthesizePlate(plateDir, { wells: 24, sites: 4, channels: 2, z: 3, size: 512, seed: 1 });
      console.log(`synthesized ${s.images} images (512² uint16) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const plate = await discoverPlate(plateDir);
    const order = ['well', 'site', 'channel', 'z', 'timepoint'];
    const byPosition = new Map<string, (typeof plate.images)[number][]>();
    for (const r of plate.images) {
      const k = `${r.components['well']}/${r.components['site']}`;
      byPosition.set(k, [...(byPosition.get(k) ?? []), r]);
    }
    console.log(`plate: ${plate.format}, ${plate.images.length} images, ${byPosition.size} positions; concurrency ${concurrency}, CPUs ${availableCpus()}, NGFF ${ngff}`);

    const tiffRun = async (out: string): Promise<void> => {
      const reader = planeReader(plate);
      await mapLimit([...byPosition.values()], concurrency, async (records) => {
        for (const r of records) await writeTiff(path.join(out, outputFileName(r.components, order)), await reader.read(r));
      });
      await reader.close();
    };
    const zarrRun = (out: string, kind: 'zarr' | 'durable' | 'raw') =>
      convertPlate(plate, out, { ngff, concurrency, durable: kind === 'durable', compression: kind === 'raw' ? 'none' : 'gzip' });

    const best = { zarr: Infinity, tiff: Infinity, durable: Infinity, raw: Infinity };
    const ratios = { zarr: [] as number[], durable: [] as number[], raw: [] as number[] };
    const sizes = { zarr: 0, tiff: 0 };
    for (let rep = 0; rep < reps; rep++) {
      const times = { zarr: 0, tiff: 0, durable: 0, raw: 0 };
      for (const kind of rep % 2 === 0 ? (['zarr', 'tiff', 'durable', 'raw'] as const) : (['tiff', 'zarr', 'raw', 'durable'] as const)) {
        const out = path.join(work, `${kind}-${rep}${kind === 'tiff' ? '' : '.zarr'}`);
        const t = performance.now();
        if (kind === 'tiff') await tiffRun(out);
        else await zarrRun(out, kind);
        const seconds = (performance.now() - t) / 1000;
        best[kind] = Math.min(best[kind], seconds);
        times[kind] = seconds;
        if (kind === 'zarr' || kind === 'tiff') sizes[kind] = await du(out);
        console.log(`rep ${rep + 1} ${kind.padEnd(7)} ${seconds.toFixed(2)} s (${(plate.images.length / seconds).toFixed(0)} img/s)`);
        await rm(out, { recursive: true, force: true });
      }
      for (const k of ['zarr', 'durable', 'raw'] as const) ratios[k].push(times[k] / times.tiff);
    }
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    console.log(`best: zarr ${best.zarr.toFixed(2)} s, tiff ${best.tiff.toFixed(2)} s, zarr+fsync ${best.durable.toFixed(2)} s, zarr uncompressed ${best.raw.toFixed(2)} s; size: zarr ${mib(sizes.zarr)} MiB, tiff ${mib(sizes.tiff)} MiB`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`ratio of best times: zarr/tiff ${(best.zarr / best.tiff).toFixed(2)}; per-rep zarr/tiff ${ratios.zarr.map((r) => r.toFixed(2)).join(' ')}`);
    console.log(`zarr_durable_vs_tiff=${median(ratios.durable).toFixed(2)} zarr_uncompressed_vs_tiff=${median(ratios.raw).toFixed(2)}`);
    console.log(`zarr_vs_tiff=${median(ratios.zarr).toFixed(2)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
