/**
 * The Python-steps benchmark (issue 13): the standard pipeline with its channel-1 chain written as
 * `py:` steps (bench/python_steps.py: scipy / scikit-image, computed as the peer computes it)
 * against the Python peer, threads ×2 each, on bench:plate's reference plate in one run; and what
 * one crossing to Python costs.
 *
 *   npm run bench:python [-- --rounds 5] [-- --calls 1000]
 *
 * The pipeline is examples/standard.json with only the chain swapped: the Z max projection stays
 * the built-in `max_projection` (written to disk, as the peer writes its projections), since the
 * issue asks for the chain as Python. Three references run in the same rounds: the same pipeline
 * on a warm pool (the executor's second run, as in `plateflow batch`: its Python processes have
 * started and imported before the clock, as the peer's imports are done before its clock), the
 * chain as one `py:` call (what the three crossings between its steps cost) and the built-in chain.
 *
 * Clocks as in bench:plate: the peer's starts after its imports; ours after `executor.start()` and
 * `executor.prepare(plans)` (worker threads up with the task code; each thread's Python process
 * started and the pipeline's modules imported, which runPlate does before its first task), so
 * neither side's interpreter start-up and imports are on the clock; their cost for a fresh pool is
 * printed. The compile-time probe is not on the clock either: plateflow answers it once per process
 * and interpreter, so an unclocked warm-up run answers it before round 1 (else round 1 alone would
 * pay it); its cost is printed.
 *
 * CPU time is printed beside the rates: this process's (all threads, on the clock) and that of the
 * Python processes (the peer's whole process; plateflow's bridges from start to exit), so where the
 * time goes shows even when other work on the machine skews the wall clock (the load average is
 * printed at the start and the end).
 *
 * The round trip: a PythonWorker (what every plateflow worker uses) calls an identity function on
 * a 512² uint16 plane, after a warm-up; the Python process's RSS, its arena and /dev/shm are read
 * along the way, and the bridges' RSS and arenas during every plate run, to show that none of them
 * grows with the number of calls.
 *
 * Last line: `ratio_vs_python_peer=<r> overhead_ms_per_call=<m>` (r = plateflow's images/s ÷ the
 * peer's; above 1, plateflow is faster).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as RunPlate from '../dist/run/run-plate.js';
import { importDist, importPlateflow, makePlate, median, objectCounts, OPENBLAS_OVERRIDES, packageRoot, PYTHON, runPeer, sameCounts, type PlateMeasure } from './lib.js';
import { arenaBytes, BridgeSampler, describeShm, endedChildrenCpuMs, kib, rssKiB, shmSnapshot, type BridgeUse } from './proc-stats.js';
import type * as Executors from '../dist/execution/executors/index.js';
import type * as Worker from '../dist/python/worker.js';
import type * as Probe from '../dist/python/probe.js';
import type { ImageStack } from '../dist/image.js';

interface Measured extends PlateMeasure {
  readonly label: string;
  /** CPU ms of this process (all its threads) while the run was on the clock; none for the peer. */
  readonly ownCpuMs?: number;
  /** CPU ms of the Python processes: the peer's whole process, or plateflow's bridges from start to exit. */
  readonly pythonCpuMs: number;
  /** Per bridge process of a Python run. */
  readonly bridges?: readonly BridgeUse[];
}

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return (at >= 0 ? Number(args[at + 1]) : fallback) || fallback;
};
// Five rounds as bench:plate: medians of five hold to about ±5 % on this shared VM.
const rounds = option('--rounds', 5);
const calls = option('--calls', 1000);
const WARM_UP = 50;
const SIDE = 512;

const STEPS = path.join(packageRoot(), 'bench', 'python_steps.py');
/** The built-ins of the standard chain and their counterparts in python_steps.py (same kwargs). */
const PYTHON_CHAIN: Readonly<Record<string, string>> = { gaussian_blur: 'gaussian', otsu_threshold: 'otsu_mask', label: 'label', count_objects: 'count_objects' };
type Call = readonly [string, Readonly<Record<string, unknown>>];
const py = (fn: string) => `py:${STEPS}:${fn}`;
/** Each built-in call by its Python counterpart. */
const asSteps = (chain: readonly Call[]): Call[] => chain.map(([fn, kwargs]) => [py(counterpart(fn)), kwargs]);
/** The whole chain as one call of python_steps.count_nuclei, which takes every step's kwargs. */
const asOneCall = (chain: readonly Call[]): Call[] => {
  chain.forEach(([fn]) => counterpart(fn));
  return [[py('count_nuclei'), Object.assign({}, ...chain.map(([, kwargs]) => kwargs)) as Record<string, unknown>]];
};
const PY_STEPS = 'plateflow py: chain ×2';
const PY_WARM = 'plateflow py: chain ×2, warm';
const PY_ONE_CALL = 'plateflow py: one call ×2';
const BUILT_IN = 'plateflow built-in ×2';
const PEER = 'python peer threads ×2';

// Both contenders' Python runs in the same environment: the peer's command drops these (lib.ts).
for (const name of OPENBLAS_OVERRIDES) delete process.env[name];

const pf = await importPlateflow();
const { planPlate } = await importDist<typeof RunPlate>('run/run-plate.js');
/** Python start-up and imports of each pool, before the clock (executor.prepare). */
const prepareMs: number[] = [];
const { createExecutor } = await importDist<typeof Executors>('execution/executors/index.js');
const { PythonWorker } = await importDist<typeof Worker>('python/worker.js');
const { probePython } = await importDist<typeof Probe>('python/probe.js');
const work = await mkdtemp(path.join(os.tmpdir(), 'plateflow-bench-python-'));
const shmAtStart = shmSnapshot();
const loadAtStart = os.loadavg();
let summary = '';

try {
  const trip = await roundTrip();
  const plate = path.join(work, 'plate');
  makePlate(plate);
  const builtin = path.join(packageRoot(), 'examples', 'standard.json');
  const steps = await writePythonPipeline(builtin, path.join(work, 'standard-py-steps.json'), asSteps);
  const oneCall = await writePythonPipeline(builtin, path.join(work, 'standard-py-one-call.json'), asOneCall);
  console.log(`\n576 images, 512²: ${plate}\n  pipelines ${steps}, ${oneCall}`);
  console.log(`  compile-time probe of the four py: steps: ${(await probeMs()).toFixed(0)} ms (median of 3), outside the clock (see the header)`);

  let outN = 0;
  const fresh = () => path.join(work, `out-${outN++}`);
  // Each output folder is deleted once measured, as in bench:plate, so writeback of earlier
  // outputs does not slow whoever runs next.
  const peer = async (): Promise<Measured> => {
    const out = fresh();
    const children = endedChildrenCpuMs();
    try {
      return { label: PEER, ...runPeer(plate, out, 'threads'), pythonCpuMs: endedChildrenCpuMs() - children };
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  };
  const ours = async (label: string, pipeline: string, pool: 'fresh' | 'warm' = 'fresh'): Promise<Measured> => {
    const executor = createExecutor('threads', { workers: 2, forwardOutput: true });
    const out = fresh();
    let sampler: BridgeSampler | undefined;
    let measured: Omit<Measured, 'pythonCpuMs'>;
    try {
      // From discovery to the last result, after the workers loaded their code; a fresh pool's
      // Python processes start (and import scipy, scikit-image) on the clock, a warm pool's were
      // started by an unclocked run before (see the header).
      await executor.start?.();
      const preparing = performance.now();
      const planned = await planPlate(plate, { pipeline, out, python: PYTHON });
      await executor.prepare?.([...planned.tasks.values()]);
      prepareMs.push(performance.now() - preparing);
      if (pool === 'warm') {
        const first = fresh();
        await pf.runPlate(plate, { pipeline, out: first, executor, python: PYTHON });
        await rm(first, { recursive: true, force: true });
      }
      sampler = new BridgeSampler();
      const cpu = process.cpuUsage();
      const started = performance.now();
      const run = await pf.runPlate(plate, { pipeline, out, executor, python: PYTHON });
      const seconds = (performance.now() - started) / 1000;
      const own = process.cpuUsage(cpu);
      if (run.totals.failed > 0) throw new Error(`${label} had failures`);
      const bridges = sampler.stop();
      measured = { label, imagesPerSecond: run.totals.images / seconds, counts: objectCounts(run), ownCpuMs: (own.user + own.system) / 1000, ...(bridges.length > 0 ? { bridges } : {}) };
    } finally {
      sampler?.stop();
      await executor.close();
      await rm(out, { recursive: true, force: true });
    }
    // Closing the pool ended its Python processes: their CPU time is final now.
    return { ...measured, pythonCpuMs: sampler.pythonCpuMs() };
  };

  await ours('warm-up', steps);
  await ours('warm-up', oneCall);
  const samples = new Map<string, Measured[]>();
  const record = (m: Measured) => samples.set(m.label, [...(samples.get(m.label) ?? []), m]);
  for (let round = 0; round < rounds; round++) {
    // Interleaved so drift in machine load hits every contender alike.
    record(await peer());
    record(await ours(PY_STEPS, steps));
    record(await ours(PY_WARM, steps, 'warm'));
    record(await ours(PY_ONE_CALL, oneCall));
    record(await ours(BUILT_IN, builtin));
  }
  const rate = (label: string) => median(samples.get(label)!.map((m) => m.imagesPerSecond));
  for (const [label, list] of samples) {
    const all = list.map((m) => m.imagesPerSecond.toFixed(1)).join(' ');
    console.log(`  ${label.padEnd(30)} ${rate(label).toFixed(1).padStart(7)} images/s (median of ${list.length}: ${all})`);
  }
  console.log(`  executor.prepare (Python processes started, modules imported; 0 for the built-in chain): median ${median(prepareMs).toFixed(0)} ms per pool, outside the clock as the peer's imports are`);
  console.log('  CPU per run, median ms: this process (its threads) while on the clock + the Python processes');
  for (const [label, list] of samples) {
    const own = list[0]!.ownCpuMs === undefined ? '-' : median(list.map((m) => m.ownCpuMs!)).toFixed(0);
    const what = label === PEER ? ' (its whole process, imports included)' : '';
    console.log(`  ${label.padEnd(30)} ${own.padStart(6)} + ${median(list.map((m) => m.pythonCpuMs)).toFixed(0).padStart(5)}${what}`);
  }
  const reference = samples.get(PEER)![0]!.counts;
  const countsMatch = [...samples.values()].flat().every((m) => sameCounts(m.counts, reference));
  const vsPeer = (label: string) => rate(label) / rate(PEER);
  const ratio = vsPeer(PY_STEPS);
  console.log(`  ÷ peer: py: chain ${ratio.toFixed(2)}, warm ${vsPeer(PY_WARM).toFixed(2)}, one call ${vsPeer(PY_ONE_CALL).toFixed(2)}, built-in ${vsPeer(BUILT_IN).toFixed(2)}; ${Object.keys(reference).length} counts compared`);
  // A warm pool's bridges end their second run: twice the tasks of a fresh pool's.
  const bridgesOf = (label: string, round: number) => samples.get(label)![round]!.bridges!.map((b) => `RSS peak ${mib(b.peakKiB)} end ${mib(b.endKiB)}, arena ${kib(b.arenaBytes)}`).join('; ');
  console.log('  Python processes (bridges) of the py: chain runs, after one run of the pool | after two:');
  for (let round = 0; round < rounds; round++) console.log(`  round ${round + 1}: ${bridgesOf(PY_STEPS, round)} | ${bridgesOf(PY_WARM, round)}`);
  console.log(`  /dev/shm: at start ${describeShm(shmAtStart)}; after all plate runs ${describeShm(shmSnapshot())}`);
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`  load average (1, 5, 15 min): at start ${load(loadAtStart)}, at end ${load(os.loadavg())}`);
  console.log(`counts_match=${countsMatch}`);
  summary = `ratio_vs_python_peer=${ratio.toFixed(2)} overhead_ms_per_call=${trip.toFixed(3)}`;
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(summary);

/**
 * `calls` identity round trips of a 512² uint16 plane through one PythonWorker after a warm-up
 * (and as many between them into a reused array); prints the spreads and what the process holds
 * every quarter; returns the median ms per call as plateflow makes it.
 */
async function roundTrip(): Promise<number> {
  const worker = new PythonWorker({ executable: PYTHON });
  const target = { kind: 'file', file: STEPS, function: 'identity' } as const;
  const data = new Uint16Array(SIDE * SIDE);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 20;
  const stack: ImageStack<'uint16'> = { dtype: 'uint16', shape: [1, SIDE, SIDE], data };
  try {
    const started = performance.now();
    const { stack: back } = await worker.call(target, stack, {});
    const first = performance.now() - started;
    if (!Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(Buffer.from(data.buffer))) throw new Error('identity changed the plane');
    for (let i = 1; i < WARM_UP; i++) await worker.call(target, stack, {});
    const pid = worker.pid!;
    const held = (done: number) => `  after ${String(done).padStart(5)} calls: RSS ${mib(rssKiB(pid)!)}, arena ${kib(arenaBytes(pid)!)}, /dev/shm ${describeShm(shmSnapshot())}`;
    console.log(`Round trip, identity on a ${SIDE}² uint16 plane (${PYTHON}, pid ${pid}):`);
    console.log(`  first call ${first.toFixed(0)} ms: the process starts and imports python_steps.py (numpy, scipy, scikit-image)`);
    console.log(held(WARM_UP));
    // Each call as plateflow makes it (the result in a fresh array), alternating with one whose
    // result goes into a reused array (PythonCallOptions.allocate, which a worker's buffer pool
    // could serve): what fresh memory costs per call, with drift in machine load hitting both.
    const reused = new Uint16Array(SIDE * SIDE);
    const timed = async (options: Worker.PythonCallOptions) => {
      const started = performance.now();
      await worker.call(target, stack, {}, options);
      return performance.now() - started;
    };
    const fresh: number[] = [];
    const pooled: number[] = [];
    for (let i = 1; i <= calls; i++) {
      fresh.push(await timed({}));
      pooled.push(await timed({ allocate: () => reused as never }));
      if (i % Math.ceil(calls / 4) === 0) console.log(held(WARM_UP + 2 * i));
    }
    console.log(`  ${calls} calls, each result in a fresh array: ${spread(fresh)}`);
    console.log(`  ${calls} calls between them, each result into one reused array: ${spread(pooled)}`);
    return median(fresh);
  } finally {
    await worker.close();
  }
}

function spread(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${median(ms).toFixed(3)} ms, p10 ${at(0.1).toFixed(3)}, p90 ${at(0.9).toFixed(3)}, max ${at(1).toFixed(3)}`;
}

/** examples/standard.json with its count_nuclei chain for channel 1 rewritten by `rewrite`. */
async function writePythonPipeline(from: string, to: string, rewrite: (chain: readonly Call[]) => Call[]): Promise<string> {
  const pipeline = JSON.parse(readFileSync(from, 'utf8')) as { steps: { name: string; func: unknown }[] };
  const func = pipeline.steps.find((s) => s.name === 'count_nuclei')?.func as Record<string, Call[]> | undefined;
  if (!func?.['#1']) throw new Error(`${from}: no count_nuclei chain for channel 1; update bench/python.ts`);
  func['#1'] = rewrite(func['#1']);
  await writeFile(to, JSON.stringify(pipeline, null, 2));
  return to;
}

function counterpart(builtin: string): string {
  const name = PYTHON_CHAIN[builtin];
  if (!name) throw new Error(`examples/standard.json: no Python counterpart of ${builtin} in bench/python_steps.py`);
  return name;
}

/** What the compile-time check of the four steps costs: one short-lived Python importing them all. */
async function probeMs(): Promise<number> {
  const targets = Object.values(PYTHON_CHAIN).map((fn) => ({ kind: 'file', file: STEPS, function: fn }) as const);
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await probePython(PYTHON, targets);
    ms.push(performance.now() - started);
  }
  return median(ms);
}

function mib(kiB: number): string {
  return `${(kiB / 1024).toFixed(1)} MiB`;
}
