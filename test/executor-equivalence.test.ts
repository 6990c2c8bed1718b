/**
 * Property: whatever the executor, worker count and submission order, a run writes byte-identical
 * output files and equal measurements. The serial run is the reference.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { compile } from '../dist/compiler/compile.js';
import type { TaskPlan } from '../dist/compiler/plan.js';
import { createExecutor, type ExecutorKind } from '../dist/execution/executors/index.js';
import type { TaskResult } from '../dist/execution/result.js';
import { discoverPlate } from '../dist/microscopes/discover.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import { loadPipelineFile } from '../dist/pipeline/load.js';
import type { PipelineDefinition } from '../dist/pipeline/types.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import { STANDARD, tempDir } from './helpers.js';

let dir: string;
let plate: PlateIndex;
let pipeline: PipelineDefinition;
let reference: Snapshot;
let runs = 0;

interface Snapshot {
  /** Output path (relative to the output root) → file bytes. */
  readonly files: Map<string, Buffer>;
  /** Measurements of every task, in a canonical order. */
  readonly measurements: string[];
}

async function runWith(kind: ExecutorKind, workers: number, order: (plans: TaskPlan[]) => TaskPlan[]): Promise<Snapshot> {
  const out = path.join(dir, `out-${runs++}`);
  const compiled = await compile(pipeline, plate, { out });
  const executor = createExecutor(kind, { workers, cpus: 4, forwardOutput: false });
  let results: Map<string, TaskResult>;
  try {
    results = await executor.run(order([...compiled.tasks.values()]));
  } finally {
    await executor.close();
  }
  const files = new Map<string, Buffer>();
  const measurements: string[] = [];
  for (const r of results.values()) {
    expect(r.status, JSON.stringify(r.error)).toBe('ok');
    for (const o of r.outputs) files.set(o, await readFile(path.join(out, o)));
    for (const m of r.measurements) measurements.push(JSON.stringify([m.task, m.step, m.fn, m.image, m.values]));
  }
  return { files, measurements: measurements.sort() };
}

beforeAll(async () => {
  dir = await tempDir('plateflow-equivalence-');
  await synthesizePlate(path.join(dir, 'plate'), { wells: 4, sites: 2, channels: 2, z: 2, size: 48, seed: 11 });
  plate = await discoverPlate(path.join(dir, 'plate'));
  pipeline = (await loadPipelineFile(STANDARD)).definition;
  reference = await runWith('serial', 1, (p) => p);
  expect(reference.files.size).toBe(16);
  expect(reference.measurements.length).toBeGreaterThan(0);
});

it('every executor and worker count gives byte-identical outputs and equal measurements', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<ExecutorKind>('threads', 'processes', 'subprocess'), fc.integer({ min: 1, max: 3 }), fc.integer(), async (kind, workers, seed) => {
      // Submission order must not matter either: a seeded shuffle of the plans.
      const shuffle = (plans: TaskPlan[]) => plans.map((p, i) => [((i + 1) * (seed | 1)) % 7919, p] as const).sort((a, b) => a[0] - b[0]).map(([, p]) => p);
      const snapshot = await runWith(kind, workers, shuffle);
      expect([...snapshot.files.keys()].sort()).toEqual([...reference.files.keys()].sort());
      for (const [file, bytes] of snapshot.files) expect(bytes.equals(reference.files.get(file)!), `${kind}×${workers}: ${file}`).toBe(true);
      expect(snapshot.measurements).toEqual(reference.measurements);
    }),
    // The examples pin the pool shapes that matter most; the random runs add more.
    { numRuns: 3, examples: [['threads', 3, 1], ['processes', 2, 7], ['subprocess', 2, 3]] },
  );
});
