/**
 * What every bench needs: the package root (benches run compiled from build/bench/, so relative
 * imports of dist/ would point at the wrong place), the compiled library, and the Python peer
 * invoked the way the environment notes ask (OpenBLAS overrides unset for that command only).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Plateflow from '../dist/index.js';
import type { PlateRun } from '../dist/run/run-plate.js';

export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'plateflow') return dir;
    } catch {
      // not here; keep climbing
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the plateflow package root');
    dir = up;
  }
}

export async function importPlateflow(): Promise<typeof Plateflow> {
  return (await import(pathToFileURL(path.join(packageRoot(), 'dist', 'index.js')).href)) as typeof Plateflow;
}

export async function importDist<T>(relative: string): Promise<T> {
  return (await import(pathToFileURL(path.join(packageRoot(), 'dist', relative)).href)) as T;
}

export const PEERS = path.resolve(packageRoot(), '..', 'shared', 'peers');
export const PYTHON = '/usr/bin/python3';

/**
 * Set on some processors for older OpenBLAS builds, they slow a current numpy: Python that is
 * benchmarked runs without them (the environment notes).
 */
export const OPENBLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

/** Runs a peer script and returns its last stdout line parsed as JSON. */
export function runPython(script: string, args: readonly string[]): Record<string, unknown> {
  const env = { ...process.env };
  for (const name of OPENBLAS_OVERRIDES) delete env[name];
  const r = spawnSync(PYTHON, [path.join(PEERS, script), ...args], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const last = lines[lines.length - 1]!;
  return last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : { line: last };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The reference plate of bench:plate and bench:python, made by the peer's own generator: 2 channels,
 * 3 Z planes, seed 1; 24 wells × 4 sites of 512² unless told otherwise.
 */
export function makePlate(dir: string, size: { wells?: number; sites?: number; size?: number } = {}): void {
  const { wells = 24, sites = 4, size: side = 512 } = size;
  runPython('make_plate.py', [dir, '--wells', String(wells), '--sites', String(sites), '--channels', '2', '--z', '3', '--size', String(side), '--seed', '1']);
}

/** One contender's result on the plate: its speed, and its object count per `<well>_s<site>`. */
export interface PlateMeasure {
  readonly imagesPerSecond: number;
  readonly counts: Record<string, number>;
}

/** The peer pipeline on `plate` (writing into `out`), as peer_pipeline.py measures itself. */
export function runPeer(plate: string, out: string, mode: 'threads' | 'serial' | 'processes', workers = 2): PlateMeasure {
  const r = runPython('peer_pipeline.py', [plate, out, '--mode', mode, '--workers', String(workers)]);
  return { imagesPerSecond: r.images_per_s as number, counts: r.counts as Record<string, number> };
}

/** The `object_count` measurements of a plateflow run, keyed like the peer's counts. */
export function objectCounts(run: PlateRun): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of run.outcome.results.values()) {
    for (const m of r.measurements) if (m.values.object_count !== undefined) counts[`${m.components.well}_s${m.components.site}`] = m.values.object_count;
  }
  return counts;
}

export function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[k] === b[k]);
}
