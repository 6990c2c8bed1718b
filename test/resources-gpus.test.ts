/**
 * The GPU registry with a fake `nvidia-smi` on PATH reporting two GPUs: probing, CUDA_VISIBLE_DEVICES,
 * slots from memory, and process workers started with their task's GPU in CUDA_VISIBLE_DEVICES.
 * `plateflow resources --json` is checked here too, since it reads the same fake.
 */
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createExecutor } from '../dist/execution/executors/index.js';
import { gpuSlotCapacity } from '../dist/execution/resources/gpu-slots.js';
import { parseNvidiaSmi, parseVisibleDevices, probeGpus } from '../dist/execution/resources/gpus.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import { fixture, plansFor, tinyPlate } from './executor-harness.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let fakeBin: string;
let plate: PlateIndex;
const FAKE_OUTPUT = '0, 16384 MiB, 1024 MiB\n1, 16384 MiB, 12288 MiB\n';

beforeAll(async () => {
  dir = await tempDir('plateflow-gpus-');
  fakeBin = path.join(dir, 'bin');
  await import('node:fs/promises').then((fs) => fs.mkdir(fakeBin));
  // Answers only the exact query the registry makes, so a changed query fails loudly.
  await writeFile(
    path.join(fakeBin, 'nvidia-smi'),
    `#!/bin/sh\nif [ "$1" = "--query-gpu=index,memory.total,memory.used" ] && [ "$2" = "--format=csv,noheader" ]; then printf '${FAKE_OUTPUT.replace(/\n/g, '\\n')}'; exit 0; fi\necho "unexpected args: $*" >&2; exit 9\n`,
  );
  await chmod(path.join(fakeBin, 'nvidia-smi'), 0o755);
  plate = await tinyPlate(path.join(dir, 'plate'), 4);
});

const withFake = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, ...extra });

describe('GPU registry', () => {
  it('lists the GPUs nvidia-smi reports', async () => {
    const probe = await probeGpus({ env: withFake() });
    expect(probe.gpus).toEqual([
      { index: 0, memoryTotalMiB: 16384, memoryUsedMiB: 1024 },
      { index: 1, memoryTotalMiB: 16384, memoryUsedMiB: 12288 },
    ]);
    expect(probe.detail).toBe('nvidia-smi listed 2 GPU(s)');
  });

  it('respects CUDA_VISIBLE_DEVICES the way CUDA does', async () => {
    expect((await probeGpus({ env: withFake({ CUDA_VISIBLE_DEVICES: '1' }) })).gpus.map((g) => g.index)).toEqual([1]);
    expect((await probeGpus({ env: withFake({ CUDA_VISIBLE_DEVICES: '' }) })).gpus).toEqual([]);
    expect((await probeGpus({ env: withFake({ CUDA_VISIBLE_DEVICES: '-1' }) })).gpus).toEqual([]);
    expect(parseVisibleDevices('1,-1,0')).toEqual({ kind: 'list', indices: [1] });
    expect(parseVisibleDevices('GPU-8f2c')).toEqual({ kind: 'unsupported' });
  });

  it('no nvidia-smi means no GPUs, with the reason', async () => {
    const probe = await probeGpus({ env: { PATH: path.join(dir, 'empty') } });
    expect(probe).toEqual({ gpus: [], detail: 'nvidia-smi not found on PATH: no NVIDIA GPUs' });
    expect(parseNvidiaSmi('garbage\n0, 100 MiB, 5 MiB\n')).toEqual({ gpus: [{ index: 0, memoryTotalMiB: 100, memoryUsedMiB: 5 }], bad: ['garbage'] });
  });

  it('slots per GPU come from free memory ÷ memory per task (one each when not given)', async () => {
    const { gpus } = await probeGpus({ env: withFake() });
    expect([...gpuSlotCapacity(gpus, 4096)]).toEqual([[0, 3], [1, 1]]);
    expect([...gpuSlotCapacity(gpus)]).toEqual([[0, 1], [1, 1]]);
  });

  it('plateflow resources --json shows the GPUs and the CPU sources', () => {
    const r = cli(['resources', '--json'], { env: withFake({ SLURM_CPUS_PER_TASK: '1' }) });
    expect(r.code, r.stderr).toBe(0);
    const out = lastJsonLine(r.stdout) as { cpus: number; chosenBy: string[]; sources: { name: string }[]; gpus: { gpus: unknown[] } };
    expect(out.cpus).toBe(1);
    expect(out.chosenBy).toEqual(['SLURM_CPUS_PER_TASK']);
    expect(out.sources.map((s) => s.name)).toEqual(['availableParallelism', 'cgroup v2 cpu.max', 'cgroup v1 cfs quota', 'SLURM_CPUS_PER_TASK', 'SLURM_CPUS_ON_NODE']);
    expect(out.gpus.gpus).toHaveLength(2);
    const human = cli(['resources'], { env: withFake() });
    expect(human.stdout).toMatch(/^cpus: \d+ \(from /);
    expect(human.stdout).toMatch(/gpus: 2 \(nvidia-smi listed 2 GPU\(s\)\)/);
  });
});

describe('GPU tasks on process workers', () => {
  it('each task runs in a worker whose CUDA_VISIBLE_DEVICES is its assigned GPU, balanced over both GPUs', async () => {
    const { gpus } = await probeGpus({ env: withFake() });
    const pipeline = { modules: [fixture('report-env.mjs')], steps: [{ name: 'env', func: 'report_env', variableComponents: ['z'], backend: 'disk' as const }] };
    const plans = await plansFor(pipeline, plate, path.join(dir, 'out-gpu'), gpus.map((g) => g.index));
    expect(plans.map((p) => p.resources.gpuId)).toEqual([0, 1, 0, 1]);
    const executor = createExecutor('processes', { workers: 2, cpus: 2, gpus, forwardOutput: false, env: { ...process.env, OMP_NUM_THREADS: undefined } });
    const results = [...(await executor.run(plans)).values()];
    await executor.close();
    for (const r of results) {
      expect(r.status, JSON.stringify(r.error)).toBe('ok');
      const values = r.measurements[0]!.values;
      expect(values.gpu).toBe(values.cuda);
      expect(values.omp).toBe(1);
    }
    expect(new Set(results.map((r) => r.measurements[0]!.values.gpu))).toEqual(new Set([0, 1]));
  });

  it('without GPUs the compiler picks the CPU fallback and workers see no GPU', async () => {
    const pipeline = { modules: [fixture('report-env.mjs')], steps: [{ name: 'env', func: 'report_env', variableComponents: ['z'], backend: 'disk' as const }] };
    const plans = await plansFor(pipeline, plate, path.join(dir, 'out-cpu'));
    expect(plans.every((p) => p.resources.gpuId === null && p.steps[0]!.pattern.default![0]!.fn === 'report_env_cpu')).toBe(true);
    const executor = createExecutor('processes', { workers: 2, cpus: 2, forwardOutput: false, env: { ...process.env, CUDA_VISIBLE_DEVICES: undefined } });
    const results = [...(await executor.run(plans)).values()];
    await executor.close();
    for (const r of results) expect(r.measurements[0]!.values).toMatchObject({ gpu: -1, cuda: -1 });
  });
});
