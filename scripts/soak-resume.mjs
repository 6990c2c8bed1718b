#!/usr/bin/env node
// Kill -9 soak for resume: run `plateflow run` in a child process, SIGKILL it at a random moment,
// run the same command again, N times; then finish the run and compare every output byte for byte
// with a clean, uninterrupted run. Ends with `kills=<n> mismatched_files=<m>`.
//
//   node scripts/soak-resume.mjs [--kills 20] [--seed 1] [--executor threads] [--output-format tiff|ome-zarr[@0.4|@0.5]]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
const PIPELINE = path.join(REPO, 'examples', 'standard.json');
const { mulberry32 } = await import(pathToFileURL(path.join(REPO, 'dist', 'synth', 'random.js')).href);

function runArgs(plate, out, extra) {
  return [CLI, 'run', plate, '--pipeline', PIPELINE, '--out', out, '--quiet', ...extra];
}

/** Starts a run and SIGKILLs it after `delayMs`; resolves with whether it was still running. */
function runAndKill(args, delayMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    let exited = false;
    child.on('error', reject);
    child.on('exit', () => {
      exited = true;
      clearTimeout(timer);
      resolve({ killed: signalled });
    });
    let signalled = false;
    const timer = setTimeout(() => {
      if (!exited) {
        signalled = true;
        child.kill('SIGKILL');
      }
    }, delayMs);
  });
}

/** Content digests of everything a run leaves that must not depend on interruptions. */
async function digestOutputs(out) {
  const digests = new Map();
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(out, full);
      if (entry.isDirectory()) {
        if (entry.name !== '.plateflow') await walk(full);
      } else if (rel === 'results.json' || rel === 'report.html') {
        // Timings and dates differ run to run; statuses and measurements are compared below.
        if (rel === 'results.json') {
          const doc = JSON.parse(await readFile(full, 'utf8'));
          const tasks = Object.fromEntries(Object.entries(doc.tasks).map(([id, t]) => [id, { status: t.status, outputs: [...t.outputs].sort(), measurements: t.measurements }]));
          digests.set(rel, hash(JSON.stringify(tasks)));
        }
      } else if (rel === 'plateflow_metadata.json') {
        digests.set(rel, hash(canonicalJson(JSON.parse(await readFile(full, 'utf8')))));
      } else {
        digests.set(rel, hash(await readFile(full)));
      }
    }
  };
  await walk(out);
  return digests;
}

function hash(data) {
  return createHash('sha256').update(data).digest('hex');
}

function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

export async function soakResume({ kills = 20, seed = 1, executorArgs = [], outputFormat, wells = 8, log = () => {} } = {}) {
  const work = await mkdtemp(path.join(os.tmpdir(), 'plateflow-soak-'));
  if (outputFormat !== undefined) executorArgs = [...executorArgs, '--output-format', outputFormat];
  try {
    const plate = path.join(work, 'plate');
    const made = spawnSync(process.execPath, [CLI, 'synth', plate, '--wells', String(wells), '--sites', '2', '--channels', '2', '--z', '3', '--size', '192', '--seed', String(seed)], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`synth failed: ${made.stderr}`);
    const clean = path.join(work, 'clean');
    const started = performance.now();
    const cleanRun = spawnSync(process.execPath, runArgs(plate, clean, executorArgs), { encoding: 'utf8' });
    if (cleanRun.status !== 0) throw new Error(`clean run failed: ${cleanRun.stderr}`);
    const cleanMs = performance.now() - started;
    const expected = await digestOutputs(clean);

    const soaked = path.join(work, 'soaked');
    const random = mulberry32(seed);
    const mismatched = new Set();
    const compare = async () => {
      const actual = await digestOutputs(soaked);
      for (const [file, digest] of expected) if (actual.get(file) !== digest) mismatched.add(file);
      for (const file of actual.keys()) if (!expected.has(file)) mismatched.add(file);
    };
    let landed = 0;
    let cycles = 0;
    while (landed < kills) {
      // Node start-up is ~100 ms of each run; spread kills over the whole remaining span.
      const delay = 60 + random() * Math.max(100, cleanMs * 1.1);
      const { killed } = await runAndKill(runArgs(plate, soaked, executorArgs), delay);
      if (killed) {
        landed++;
        log(`kill ${landed}: after ${delay.toFixed(0)} ms`);
        continue;
      }
      // The resumed run got to the end: check it, then start a fresh cycle so every kill lands mid-run.
      cycles++;
      await compare();
      log(`cycle ${cycles} finished and compared; starting over`);
      await rm(soaked, { recursive: true, force: true });
    }
    const finish = spawnSync(process.execPath, runArgs(plate, soaked, executorArgs), { encoding: 'utf8' });
    if (finish.status !== 0) throw new Error(`final resumed run failed (exit ${finish.status}): ${finish.stderr}`);
    await compare();
    return { kills: landed, cycles: cycles + 1, mismatched: [...mismatched], files: expected.size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const executor = arg('executor', undefined);
  const result = await soakResume({
    kills: Number(arg('kills', '20')),
    seed: Number(arg('seed', '1')),
    executorArgs: executor ? ['--executor', executor] : [],
    outputFormat: arg('output-format', undefined),
    log: (line) => console.error(line),
  });
  if (result.mismatched.length > 0) console.error(`mismatched: ${result.mismatched.join(', ')}`);
  console.log(`files=${result.files} cycles=${result.cycles} kills=${result.kills} mismatched_files=${result.mismatched.length}`);
  process.exitCode = result.mismatched.length === 0 ? 0 : 1;
}
