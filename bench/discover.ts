/**
 * Discovery and compile of a million-file plate, against Python listing the same folder.
 *
 *   npm run bench:discover -- [--files N] [--reps 3] [--dist <dir>]
 *
 * Plate: a flat folder of N empty ImageXpress files, `A01_s1_w1_z1_t1.tif` … (default 967,680 =
 * 384 wells × 9 sites × 4 channels × 5 z × 14 timepoints; smaller N keeps that order and stops
 * early), made once and kept under the OS temp dir (`plateflow-bench-discover-<N>`), since making
 * it costs far more than what is measured.
 *
 * Each repetition runs in a fresh Node process (no discovery cache, its own peak RSS):
 * `discoverPlate`, `compile` of a one-step pipeline with one task per well, and `preflight` of the
 * plans. Python's side, in the same run: `os.scandir` of the folder, the ImageXpress regex on each
 * name, and the sorted (well, site, channel, z, t) keys — what a Python tool does before its first
 * task. `--dist` runs another build of plateflow (e.g. main's `dist/`) for a before/after figure.
 * The last line is
 *
 *   discover_compile_s=<x> peak_rss_mib=<m> preflight_s=<p> ratio_vs_python=<r>
 *
 * with medians over the repetitions; ratio = plateflow discover+compile ÷ Python's listing + parse.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Plateflow from '../dist/index.js';
import type * as Preflight from '../dist/run/preflight.js';
import { median, packageRoot, PYTHON } from './lib.js';

const SHAPE = { wells: 384, sites: 9, channels: 4, z: 5, timepoints: 14 };
const DEFAULT_FILES = SHAPE.wells * SHAPE.sites * SHAPE.channels * SHAPE.z * SHAPE.timepoints;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function wellName(i: number): string {
  return `${String.fromCharCode(65 + Math.floor(i / 24))}${String((i % 24) + 1).padStart(2, '0')}`;
}

/** The plate folder, made on first use; a marker written last says it is complete. */
function ensurePlate(files: number): string {
  const dir = path.join(os.tmpdir(), `plateflow-bench-discover-${files}`);
  const done = path.join(dir, '.complete');
  if (existsSync(done)) return dir;
  mkdirSync(dir, { recursive: true });
  process.stdout.write(`making ${files} empty files in ${dir} (once)…\n`);
  let made = 0;
  outer: for (let w = 0; w < SHAPE.wells; w++) {
    for (let t = 1; t <= SHAPE.timepoints; t++) {
      for (let s = 1; s <= SHAPE.sites; s++) {
        for (let c = 1; c <= SHAPE.channels; c++) {
          for (let z = 1; z <= SHAPE.z; z++) {
            if (made++ === files) break outer;
            closeSync(openSync(path.join(dir, `${wellName(w)}_s${s}_w${c}_z${z}_t${t}.tif`), 'w'));
          }
        }
      }
    }
  }
  writeFileSync(done, '');
  return dir;
}

interface ChildResult {
  readonly images: number;
  readonly tasks: number;
  readonly discover_s: number;
  readonly compile_s: number;
  readonly preflight_s: number | null;
  readonly peak_rss_mib: number;
}

/** One repetition, in this (fresh) process. */
async function child(plate: string, dist: string): Promise<void> {
  const pf = (await import(pathToFileURL(path.join(dist, 'index.js')).href)) as typeof Plateflow;
  const out = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-discover-out-'));
  try {
    const t0 = performance.now();
    const index = await pf.discoverPlate(plate);
    const t1 = performance.now();
    const run = await pf.compile({ steps: [{ name: 'project', func: 'max_projection', variableComponents: ['z'] }] }, index, { out });
    const t2 = performance.now();
    let preflightSeconds: number | null = null;
    const preflightFile = path.join(dist, 'run', 'preflight.js');
    if (existsSync(preflightFile)) {
      const { preflight } = (await import(pathToFileURL(preflightFile).href)) as typeof Preflight;
      const t3 = performance.now();
      await preflight([...run.tasks.values()], { workers: 2, forceRun: true });
      preflightSeconds = (performance.now() - t3) / 1000;
    }
    const result: ChildResult = {
      images: (index.records ?? index.images).length,
      tasks: run.tasks.size,
      discover_s: (t1 - t0) / 1000,
      compile_s: (t2 - t1) / 1000,
      preflight_s: preflightSeconds,
      peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const PYTHON_LISTING = String.raw`
import os, re, sys, time, json
NAME = re.compile(r'^(?:(.*?)_)??([A-Z]{1,2})(\d{1,3})(?:_s(\d+))?(?:_w(\d+))?(?:_z(\d+))?(?:_t(\d+))?\.[tT][iI][fF][fF]?$')
t0 = time.perf_counter()
keys = []
for e in os.scandir(sys.argv[1]):
    if e.name.startswith('.') or not e.is_file():
        continue
    m = NAME.match(e.name)
    if m:
        keys.append((m.group(2), int(m.group(3)), int(m.group(4) or 1), int(m.group(5) or 1), int(m.group(6) or 1), int(m.group(7) or 1), e.name))
keys.sort()
print(json.dumps({"seconds": time.perf_counter() - t0, "images": len(keys)}))
`;

function runChild(plate: string, dist: string): ChildResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', plate, '--dist', dist], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`bench child failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

function runPythonListing(plate: string): number {
  const r = spawnSync(PYTHON, ['-c', PYTHON_LISTING, plate], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python listing failed (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout.trim()) as { seconds: number }).seconds;
}

const spread = (xs: readonly number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

async function main(): Promise<void> {
  const dist = path.resolve(option('--dist', path.join(packageRoot(), 'dist')));
  if (process.argv.includes('--child')) {
    await child(option('--child', ''), dist);
    return;
  }
  const files = Number(option('--files', String(DEFAULT_FILES)));
  const reps = Number(option('--reps', '3'));
  const plate = ensurePlate(files);
  const runs: ChildResult[] = [];
  const python: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = runChild(plate, dist);
    const p = runPythonListing(plate);
    runs.push(r);
    python.push(p);
    process.stdout.write(
      `run ${i + 1}: ${r.images} images, ${r.tasks} tasks; discover ${r.discover_s.toFixed(2)} s, compile ${r.compile_s.toFixed(2)} s, ` +
        `preflight ${r.preflight_s === null ? 'n/a' : `${r.preflight_s.toFixed(2)} s`}, peak RSS ${r.peak_rss_mib.toFixed(0)} MiB; python scandir+parse+sort ${p.toFixed(2)} s\n`,
    );
  }
  const total = runs.map((r) => r.discover_s + r.compile_s);
  const pre = runs.flatMap((r) => (r.preflight_s === null ? [] : [r.preflight_s]));
  process.stdout.write(
    `median of ${reps} (${dist}): discover ${median(runs.map((r) => r.discover_s)).toFixed(2)} s, compile ${median(runs.map((r) => r.compile_s)).toFixed(2)} s, ` +
      `discover+compile ${median(total).toFixed(2)} s (spread ${spread(total)}), python ${median(python).toFixed(2)} s (spread ${spread(python)})\n`,
  );
  process.stdout.write(
    `discover_compile_s=${median(total).toFixed(2)} peak_rss_mib=${median(runs.map((r) => r.peak_rss_mib)).toFixed(0)} ` +
      `preflight_s=${pre.length > 0 ? median(pre).toFixed(2) : 'n/a'} ratio_vs_python=${(median(total) / median(python)).toFixed(2)}\n`,
  );
}

await main();
