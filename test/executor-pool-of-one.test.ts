/**
 * The executor a user names is the isolation they get, even when only one worker is useful
 * (`--workers 1`, a single task, a 1-CPU Slurm job): a task that SIGKILLs its process kills only its
 * worker, never plateflow. And `serial` takes tasks in the order given, on one worker thread.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExecutor } from '../dist/execution/executors/index.js';
import { chooseExecution, resolveExecutorOptions } from '../dist/execution/executors/index.js';
import { fixture, misbehaving, plansFor, tinyPlate } from './executor-harness.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let plate: string;
let onePlate: string;

beforeAll(async () => {
  dir = await tempDir('plateflow-pool-of-one-');
  plate = path.join(dir, 'plate');
  onePlate = path.join(dir, 'one-well');
  await tinyPlate(plate, 3);
  await tinyPlate(onePlate, 1);
});

async function sigkillPipeline(well: string): Promise<string> {
  const file = path.join(dir, `sigkill-${well}.json`);
  await writeFile(file, JSON.stringify(misbehaving([fixture('sigkill-on-well.mjs')], [['sigkill_on_well', { well }]])));
  return file;
}

type Results = { executor: string; tasks: Record<string, { status: string; error?: { code: string; context: { reason: string; signal: string } } }> };

describe('a task that SIGKILLs its own process, with one useful worker', () => {
  it.each([
    ['processes', '--workers 1', ['--workers', '1'], {}],
    ['subprocess', '--workers 1', ['--workers', '1'], {}],
    ['processes', 'a 1-CPU Slurm job', [], { SLURM_CPUS_PER_TASK: '1' }],
  ] as const)('%s, %s: only that task ends killed; the other wells run; results.json is written', async (executor, _case, flags, env) => {
    const out = path.join(dir, `out-${executor}-${flags.length}`);
    const r = cli(['run', plate, '-p', await sigkillPipeline('A02'), '-o', out, '--executor', executor, ...flags, '--json'], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 3, ok: 2, failed: 1 });
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;
    expect(results.executor).toBe(executor);
    expect(results.tasks.A02).toMatchObject({ status: 'killed', error: { code: 'E_TASK_KILLED', context: { signal: 'SIGKILL' } } });
    expect(results.tasks.A01!.status).toBe('ok');
    expect(results.tasks.A03!.status).toBe('ok');
  });

  it.each(['processes', 'subprocess'])('%s, a single task: it ends killed and plateflow reports it', async (executor) => {
    const out = path.join(dir, `out-one-${executor}`);
    const r = cli(['run', onePlate, '-p', await sigkillPipeline('A01'), '-o', out, '--executor', executor, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 1, failed: 1 });
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;
    expect(results.tasks.A01).toMatchObject({ status: 'killed' });
  });
});

describe('chooseExecution', () => {
  it('keeps the engine asked for, at any size; only the pool size changes', () => {
    const plans = [{ resources: { gpuId: null } }] as never[];
    for (const kind of ['threads', 'processes', 'subprocess'] as const) {
      expect(chooseExecution(kind, resolveExecutorOptions({ workers: 1, cpus: 4 }))).toMatchObject({ engine: kind, workers: 1 });
      expect(chooseExecution(kind, resolveExecutorOptions({ cpus: 1 }))).toMatchObject({ engine: kind, workers: 1 });
      expect(chooseExecution(kind, resolveExecutorOptions({ cpus: 4 }), plans)).toMatchObject({ engine: kind, workers: 1 });
    }
    expect(chooseExecution('serial', resolveExecutorOptions({ cpus: 4 }))).toEqual({ engine: 'serial', workers: 1, notes: [] });
  });

  it('keeps the CPU budget (what tasks\' own threads may add up to) at min(--workers, CPUs)', () => {
    expect(resolveExecutorOptions({ cpus: 4 }).cpuBudget).toBe(4);
    expect(resolveExecutorOptions({ cpus: 4, workers: 1 }).cpuBudget).toBe(1);
    expect(resolveExecutorOptions({ cpus: 2, workers: 8 }).cpuBudget).toBe(2);
  });
});

describe("createExecutor('serial')", () => {
  it('runs tasks in the order given, one at a time, in one worker thread (not the caller\'s)', async () => {
    const plateIndex = await tinyPlate(path.join(dir, 'order-plate'), 4);
    const pipeline = misbehaving([fixture('report-env.mjs')], [['report_env', {}]]);
    // Heaviest last: a largest-first queue would start it first.
    const plans = (await plansFor(pipeline, plateIndex, path.join(dir, 'out-order'))).map((p, i) => ({ ...p, resources: { ...p.resources, weight: i + 1 } }));
    const executor = createExecutor('serial', { cpus: 4, forwardOutput: false });
    const started: string[] = [];
    const results = await executor.run(plans, { onEvent: (e) => e.type === 'task:start' && started.push(e.taskId) });
    await executor.close();
    expect(started).toEqual(plans.map((p) => p.taskId));
    for (const r of results.values()) {
      expect(r.status, JSON.stringify(r.error)).toBe('ok');
      expect(r.measurements[0]!.values.main_thread).toBe(0);
    }
  });
});
