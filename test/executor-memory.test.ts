/**
 * --worker-memory for process workers: a worker whose RSS passes the limit is killed by the
 * watchdog and its task ends `killed` with "exceeded memory limit"; the others run on, and every
 * result records its peak RSS. (The thread heap limit is covered in executor-failures.)
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExecutor } from '../dist/execution/executors/index.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import { byWell, isGone, misbehaving, pidRecorder, plansFor, tinyPlate } from './executor-harness.js';
import { tempDir } from './helpers.js';

const MiB = 1024 * 1024;
let dir: string;
let plate: PlateIndex;

beforeAll(async () => {
  dir = await tempDir('plateflow-memory-');
  plate = await tinyPlate(path.join(dir, 'plate'), 3);
});

describe.each(['processes', 'subprocess'] as const)('%s with workerMemoryBytes', (kind) => {
  it('kills the worker that goes over, reports "exceeded memory limit", and records peak RSS for all', async () => {
    const announce = path.join(dir, `announce-${kind}`);
    await mkdir(announce);
    // 400 MiB of touched Buffers (outside the JS heap) against a 250 MiB limit.
    const plans = await plansFor(misbehaving(['./rss-hog-on-well.mjs'], [['rss_hog_on_well', { well: 'A02', mb: 400, announce }]]), plate, path.join(dir, `out-${kind}`));
    const executor = createExecutor(kind, { workers: 2, cpus: 2, workerMemoryBytes: 250 * MiB, memoryCheckIntervalMs: 50, forwardOutput: false });
    const recorder = pidRecorder();
    const results = byWell(await executor.run(plans, { onEvent: recorder.onEvent }));
    await executor.close();
    expect(results.A02).toMatchObject({ status: 'killed', error: { code: 'E_TASK_KILLED', context: { reason: 'memory-limit', memoryLimitBytes: 250 * MiB } } });
    expect(results.A02!.error!.message).toMatch(/^killed: exceeded memory limit \(RSS \d+(\.\d)? MiB > 250 MiB\)$/);
    expect(results.A02!.peakRssBytes).toBeGreaterThan(250 * MiB);
    for (const w of ['A01', 'A03']) {
      expect(results[w]!.status).toBe('ok');
      expect(results[w]!.peakRssBytes).toBeGreaterThan(10 * MiB);
      expect(results[w]!.peakRssBytes).toBeLessThan(250 * MiB);
    }
    for (const pid of recorder.pids) expect(isGone(pid)).toBe(true);
  });
});
