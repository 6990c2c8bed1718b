import { appendFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { preflight, PreflightError } from '../src/run/preflight.js';
import { compile } from '../src/compiler/compile.js';
import type { TaskPlan } from '../src/compiler/plan.js';
import { discoverPlate } from '../src/microscopes/discover.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { STANDARD, tempDir } from './helpers.js';
import { loadPipelineFile } from '../src/pipeline/load.js';
import { SerialExecutor } from '../src/execution/executors/serial.js';
import type { Executor } from '../src/execution/executor.js';
import { runPlate } from '../src/run/run-plate.js';

let plans: TaskPlan[];
const MiB = 1024 * 1024;

beforeAll(async () => {
  const dir = await tempDir();
  await synthesizePlate(path.join(dir, 'plate'), { wells: 2, sites: 1, channels: 1, z: 2, size: 64 });
  const plate = await discoverPlate(path.join(dir, 'plate'));
  plans = [...(await compile((await loadPipelineFile(STANDARD)).definition, plate, { out: path.join(dir, 'out') })).tasks.values()];
});

describe('preflight', () => {
  it('estimates peak RAM from the largest task, the peak factor and the workers', async () => {
    const { estimate, warnings } = await preflight(plans, { workers: 2, memoryAvailableBytes: 10_000 * MiB, diskAvailableBytes: 10_000 * MiB });
    expect(estimate.peakFactor).toBe(5); // uint16: 1 + 2 × 4 / 2
    expect(estimate.largestTaskBytes).toBeGreaterThan(2 * 64 * 64 * 2);
    expect(estimate.peakRamBytes).toBe(Math.ceil(estimate.largestTaskBytes * 5 * 2 + 2 * 64 * MiB));
    expect(estimate.diskNeedBytes).toBe(estimate.inputBytes * 2);
    expect(warnings).toEqual([]);
  });

  it('warns at 80 % and refuses at 100 % with the numbers, unless forced', async () => {
    const { estimate } = await preflight(plans, { workers: 2, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    const near = await preflight(plans, { workers: 2, memoryAvailableBytes: Math.ceil(estimate.peakRamBytes / 0.9), diskAvailableBytes: 1e12 });
    expect(near.warnings).toEqual([expect.stringMatching(/^peak RAM: estimated .* of .* available \(90 %\)$/)]);
    const refuse = preflight(plans, { workers: 2, memoryAvailableBytes: 1e12, diskAvailableBytes: estimate.diskNeedBytes - 1 });
    await expect(refuse).rejects.toBeInstanceOf(PreflightError);
    await expect(refuse).rejects.toMatchObject({ code: 'E_RESOURCE', message: expect.stringMatching(/output disk: estimated .* \(100 %\); free space or choose another --out\. Pass --force-run/) });
    const forced = await preflight(plans, { workers: 2, forceRun: true, memoryAvailableBytes: 1, diskAvailableBytes: 1e12 });
    expect(forced.warnings.join()).toMatch(/peak RAM: .*use fewer workers \(now 2\).*continuing because of --force-run/);
  });

  it('sums every input file of every task exactly, however many stats are in flight at once', async () => {
    const { estimate } = await preflight(plans, { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    const perTask = plans.map((p) => p.inputs.reduce((sum, r) => sum + statSync(path.join(p.plate.root, r.path)).size, 0));
    expect(perTask.every((bytes) => bytes > 0)).toBe(true);
    expect(estimate.inputBytes).toBe(perTask.reduce((a, b) => a + b, 0));
    expect(estimate.largestTaskBytes).toBe(Math.max(...perTask));
    expect(estimate.taskPeakBytes).toBe(Math.ceil(estimate.largestTaskBytes * 5 + 64 * MiB));
  });

  it('above the sampling threshold: a sample of equal sizes stands for all, said in a note; unequal sizes mean every file is stat\'ed', async () => {
    const exact = await preflight(plans, { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    expect(exact.notes).toEqual([]);
    const sampled = await preflight(plans, { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12, sampleAbove: 2 });
    expect(sampled.notes).toEqual([expect.stringMatching(/^input sizes from 2 of 4 files, all \d+ bytes \(pass --no-preflight/)]);
    expect(sampled.estimate.inputBytes).toBe(exact.estimate.inputBytes); // the synthetic plate's files are all one size
    // A sampled file (every second one, from the first) grows: the sizes differ, so every file is stat'ed.
    const sampledFile = path.join(plans[0]!.plate.root, plans[0]!.inputs[0]!.path);
    appendFileSync(sampledFile, Buffer.alloc(1000));
    const mixed = await preflight(plans, { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12, sampleAbove: 2 });
    expect(mixed.notes).toEqual([]);
    expect(mixed.estimate.inputBytes).toBe(exact.estimate.inputBytes + 1000);
  });

  it('gives each worker the largest task\'s working set to keep for reuse, at most half of --worker-memory', async () => {
    const { estimate } = await preflight(plans, { workers: 2, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    expect(estimate.bufferPoolBytes).toBe(Math.ceil(estimate.largestTaskBytes * 5));
    const limited = await preflight(plans, { workers: 2, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12, workerMemoryBytes: estimate.bufferPoolBytes });
    expect(limited.estimate.bufferPoolBytes).toBe(Math.floor(estimate.bufferPoolBytes / 2));
  });

  it('a run hands that budget to every task it runs; without a preflight, none', async () => {
    const seen: TaskPlan[] = [];
    const inner = new SerialExecutor();
    const recording: Executor = { name: 'recording', run: (p, o) => (seen.push(...p), inner.run(p, o)), close: () => inner.close() };
    const plate = plans[0]!.plate.root;
    const out = await tempDir();
    await runPlate(plate, { pipeline: STANDARD, out: path.join(out, 'a'), executor: recording, preflight: { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 } });
    const { estimate } = await preflight(plans, { workers: 1, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    expect(seen.map((p) => p.resources.bufferPoolBytes)).toEqual(plans.map(() => estimate.bufferPoolBytes));
    expect(seen.every((p) => Object.isFrozen(p) && Object.isFrozen(p.resources))).toBe(true);
    seen.length = 0;
    await runPlate(plate, { pipeline: STANDARD, out: path.join(out, 'b'), executor: recording, preflight: false });
    expect(seen.map((p) => p.resources.bufferPoolBytes)).toEqual(plans.map(() => undefined));
  });

  it('never counts more workers than tasks', async () => {
    const { estimate } = await preflight(plans, { workers: 16, memoryAvailableBytes: 1e12, diskAvailableBytes: 1e12 });
    expect(estimate.workers).toBe(2);
  });
});
