/**
 * Slurm's wall-time limit on the real cluster: the smallest is one minute and slurmctld enforces it
 * within about half a minute more, so this file takes over a minute and stands alone to run beside
 * the others.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSlurmExecutor } from '../dist/distributed/slurm/executor.js';
import { runPlate } from '../dist/run/run-plate.js';
import { synthesizePlate } from '../dist/synth/plate.js';
import { REPO, tempDir, writePipeline } from './helpers.js';
import { SLURM_AVAILABLE, ensureSlurmCluster } from './slurm-helpers.js';

describe.skipIf(!SLURM_AVAILABLE)('slurm executor: --slurm-time', () => {
  let dir: string;
  let plate: string;

  beforeAll(async () => {
    ensureSlurmCluster();
    dir = await tempDir('plateflow-slurm-limits-');
    plate = (await synthesizePlate(path.join(dir, 'plate'), { wells: 2, sites: 1, channels: 1, z: 1, size: 32, seed: 3 })).root;
  });

  it('a task past --slurm-time ends timeout, naming the limit; the other finishes', { timeout: 300_000 }, async () => {
    const pipeline = await writePipeline(path.join(dir, 'spin.json'), {
      modules: [path.join(REPO, 'test', 'fixtures', 'steps', 'spin-on-well.mjs')],
      steps: [{ name: 'spin', func: [['spin_on_well', { well: 'A01' }]], backend: 'disk' }],
    });
    const executor = createSlurmExecutor({ pollIntervalMs: 500, time: '1' });
    const run = await runPlate(plate, { pipeline, out: path.join(dir, 'out'), executor }).finally(() => executor.close());
    expect(run.outcome.results.get('A02')!.status).toBe('ok');
    const a01 = run.outcome.results.get('A01')!;
    expect(a01.status).toBe('timeout');
    expect(a01.error!.message).toBe(`Slurm ended element ${a01.error!.message.match(/element (\d+_\d+)/)![1]} at its time limit (--slurm-time 1)`);
  });
});
