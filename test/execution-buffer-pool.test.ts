/**
 * Recycled pixel arrays: the pool takes back only what it handed out, and a task gives back only
 * arrays no function can still hold (see run-task.ts). Real runs in temp dirs.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../src/execution/buffer-pool.js';
import { SerialExecutor } from '../src/execution/executors/serial.js';
import { runPlate } from '../src/run/run-plate.js';
import type { PipelineDefinition } from '../src/pipeline/types.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { fixture } from './executor-harness.js';
import { tempDir } from './helpers.js';

describe('BufferPool', () => {
  it('hands a returned array out again for the same dtype and length, and nothing else', () => {
    const pool = new BufferPool();
    const a = pool.allocate('float32', 100_000);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(100_000);
    pool.release(a);
    expect(pool.freeBytes).toBe(400_000);
    expect(pool.allocate('uint32', 100_000)).not.toBe(a); // same bytes, other dtype
    expect(pool.allocate('float32', 100_001)).not.toBe(a);
    expect(pool.allocate('float32', 100_000)).toBe(a);
    expect(pool.freeBytes).toBe(0);
  });

  it('ignores arrays it did not hand out, second returns, and small arrays', () => {
    const pool = new BufferPool();
    pool.release(new Float32Array(100_000));
    const a = pool.allocate('uint16', 100_000);
    pool.release(a);
    pool.release(a);
    expect(pool.freeBytes).toBe(200_000);
    pool.release(a.subarray(0, 10));
    const small = pool.allocate('uint8', 1000);
    pool.release(small);
    expect(pool.freeBytes).toBe(200_000);
  });

  it('never hands out an array whose buffer was transferred away after it came back', () => {
    const pool = new BufferPool();
    const a = pool.allocate('uint16', 100_000);
    pool.release(a);
    const buffer = a.buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
    expect(a.length).toBe(0);
    const b = pool.allocate('uint16', 100_000);
    expect(b === a).toBe(false);
    expect(b.length).toBe(100_000);
    expect(pool.freeBytes).toBe(0);
  });

  it('releaseExcept keeps every array that shares a buffer with one still in use', () => {
    const pool = new BufferPool();
    const a = pool.allocate('float32', 100_000);
    const b = pool.allocate('float32', 100_000);
    pool.releaseExcept([a, b, b], [a.subarray(5, 10)]);
    expect(pool.freeBytes).toBe(400_000);
    expect(pool.allocate('float32', 100_000)).toBe(b);
    expect(pool.allocate('float32', 100_000) === a).toBe(false);
  });

  it('keeps what a task had out at once, whatever the array sizes, above its floor', () => {
    const pool = new BufferPool({ floorBytes: 1_000_000 });
    const arrays = [pool.allocate('float32', 200_000), pool.allocate('float32', 200_000), pool.allocate('float32', 200_000)];
    for (const a of arrays) pool.release(a);
    expect(pool.limitBytes).toBe(2_400_000);
    expect(pool.freeBytes).toBe(2_400_000);
    // The next task gets all three back without new memory.
    const again = [pool.allocate('float32', 200_000), pool.allocate('float32', 200_000), pool.allocate('float32', 200_000)];
    expect(new Set([...again, ...arrays]).size).toBe(3);
  });

  it('never keeps more than its budget, and lets go at once of what a lower budget no longer allows', () => {
    const pool = new BufferPool({ floorBytes: 0, budgetBytes: 1_000_000 });
    const arrays = [pool.allocate('float32', 200_000), pool.allocate('float32', 200_000)];
    for (const a of arrays) pool.release(a);
    expect(pool.freeBytes).toBe(800_000);
    const third = pool.allocate('uint8', 300_000);
    pool.release(third);
    expect(pool.freeBytes).toBe(800_000);
    pool.setBudget(500_000);
    expect(pool.freeBytes).toBe(0);
    pool.setBudget(10_000_000);
    expect(pool.limitBytes).toBe(1_600_000); // the most it had out at once
  });

  it('does not count arrays a finished task never gave back as needed by the next', () => {
    const pool = new BufferPool({ floorBytes: 0 });
    for (let task = 0; task < 5; task++) {
      pool.allocate('uint16', 200_000); // kept by user code, then garbage when the task ends
      pool.endTask();
    }
    expect(pool.limitBytes).toBe(400_000);
  });
});

describe('recycling in a run', () => {
  // 256²: every stack and intermediate is large enough to be pooled; 2048²: 8 MiB planes, beyond
  // the pool's floor, so what it keeps comes from the task's own need.
  it.each([
    { size: 256, wells: 4, sites: 3 },
    { size: 2048, wells: 1, sites: 2 },
  ])('never recycles an array a user function may have kept, and gives the same results as fresh arrays ($size²)', async ({ size, wells, sites }) => {
    const dir = await tempDir('plateflow-pool-');
    const plate = path.join(dir, 'plate');
    await synthesizePlate(plate, { wells, sites, channels: 1, z: 2, size, seed: 8 });
    const module = fixture('keep-inputs.mjs');
    // variableComponents ['site']: a user function gets a stack plateflow assembled; []: it gets
    // the previous step's image itself, a view of that step's output array.
    const segment = (first: readonly (string | [string, Record<string, unknown>])[], variableComponents: string[] = ['site']): PipelineDefinition => ({
      modules: [module],
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        { name: 'segment', func: [...first, ['gaussian_blur', { sigma: 1 }], 'otsu_threshold', 'label', 'count_objects'] as never, variableComponents, backend: 'memory' },
        { name: 'smooth', func: [['gaussian_blur', { sigma: 1 }]], variableComponents: ['site'], backend: 'disk' },
      ],
    });
    // One process, one pool, one task after another: recycled arrays are reused across groups and tasks.
    const run = async (name: string, pipeline: PipelineDefinition) => {
      const r = await runPlate(plate, { pipeline, out: path.join(dir, name), executor: new SerialExecutor() });
      expect(r.totals.failed).toBe(0);
      return r.measurements;
    };
    const { keptIntact, keptCount, resetKept } = (await import(pathToFileURL(module).href)) as { keptIntact(): boolean; keptCount(): number; resetKept(): void };
    resetKept();
    const plain = await run('plain', segment([]));
    const kept = await run('kept', segment(['keep_input']));
    expect(keptCount()).toBe(wells); // one group (all sites) per well
    expect(keptIntact()).toBe(true);
    expect(kept).toEqual(plain);
    const keptViews = await run('kept-views', segment(['keep_input'], []));
    expect(keptCount()).toBe(wells + wells * sites); // then one image per group
    expect(keptIntact()).toBe(true);
    expect(keptViews).toEqual(plain);
    expect(await run('again', segment([]))).toEqual(plain);
  }, 120_000);
});
