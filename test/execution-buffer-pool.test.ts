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

  it('keeps at most maxFreeBytes for reuse', () => {
    const pool = new BufferPool(1_000_000);
    const arrays = [pool.allocate('float32', 200_000), pool.allocate('float32', 200_000)];
    for (const a of arrays) pool.release(a);
    expect(pool.freeBytes).toBe(800_000);
    const third = pool.allocate('uint8', 300_000);
    pool.release(third);
    expect(pool.freeBytes).toBe(800_000);
  });
});

describe('recycling in a run', () => {
  it('never recycles an array a user function may have kept, and gives the same results as fresh arrays', async () => {
    const dir = await tempDir('plateflow-pool-');
    const plate = path.join(dir, 'plate');
    // 256²: every stack and intermediate is large enough to be pooled.
    await synthesizePlate(plate, { wells: 4, sites: 3, channels: 1, z: 3, size: 256, seed: 8 });
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
    const plain = await run('plain', segment([]));
    const kept = await run('kept', segment(['keep_input']));
    const { keptIntact, keptCount } = (await import(pathToFileURL(module).href)) as { keptIntact(): boolean; keptCount(): number };
    expect(keptCount()).toBe(4 * 1); // one group (3 sites) per well
    expect(keptIntact()).toBe(true);
    expect(kept).toEqual(plain);
    const keptViews = await run('kept-views', segment(['keep_input'], []));
    expect(keptCount()).toBe(4 + 4 * 3); // then one image per group
    expect(keptIntact()).toBe(true);
    expect(keptViews).toEqual(plain);
    expect(await run('again', segment([]))).toEqual(plain);
  });
});
