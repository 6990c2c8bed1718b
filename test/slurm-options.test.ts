/**
 * What the Slurm executor makes of its options (the sbatch lines every array gets), what it refuses,
 * and how it reads an element that ended without a result.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskPlan } from '../src/compiler/plan.js';
import { defaultElementMemory, describeDefaultTime } from '../src/distributed/slurm/defaults.js';
import { endingOf } from '../src/distributed/slurm/endings.js';
import { gresGpuCount, resolveSlurmOptions } from '../src/distributed/slurm/options.js';
import { onThisElementsGpu } from '../src/distributed/slurm/element.js';
import { renderArrayScript, shellWord } from '../src/distributed/slurm/script.js';
import { GLIBC_MALLOC_TUNING } from '../src/execution/resources/env-limits.js';

describe('Slurm options', () => {
  it('become sbatch options, one per line of the script, with plateflow\'s array, logs and element command', () => {
    const o = resolveSlurmOptions({ partition: 'debug', time: '1:00:00', mem: '4G', cpusPerTask: 2, gres: 'gpu:1', account: 'lab', qos: 'normal', sbatchOptions: ['--constraint=avx2', '--exclusive'], arrayParallelism: 8, runId: 'run-1' });
    expect(o.sbatchArgs).toEqual(['--partition=debug', '--time=1:00:00', '--mem=4G', '--cpus-per-task=2', '--gres=gpu:1', '--account=lab', '--qos=normal', '--constraint=avx2', '--exclusive']);
    const script = renderArrayScript({ runId: 'run-1', runDir: "/shared/out dir/.plateflow/slurm/run-1", submission: 3, elements: 250, parallelism: 8, sbatchArgs: o.sbatchArgs, plateflow: ['/usr/bin/node', '/opt/plateflow/dist/cli/main.js'] });
    expect(script.split('\n')).toEqual([
      '#!/bin/bash',
      '#SBATCH --job-name=plateflow-run-1',
      '#SBATCH --array=0-249%8',
      "#SBATCH --output='/shared/out dir/.plateflow/slurm/run-1/logs/%A_%a.out'",
      "#SBATCH --error='/shared/out dir/.plateflow/slurm/run-1/logs/%A_%a.err'",
      ...o.sbatchArgs.map((a) => `#SBATCH ${a}`),
      '# plateflow run run-1, array 3: 250 task(s); element i runs entry i of submissions/3.json',
      `export GLIBC_TUNABLES="\${GLIBC_TUNABLES:-${GLIBC_MALLOC_TUNING}}"`,
      "exec /usr/bin/node /opt/plateflow/dist/cli/main.js slurm-element '/shared/out dir/.plateflow/slurm/run-1' 3",
      '',
    ]);
  });

  it.each([
    [{ mem: '4G', memPerCpu: '1G' }, /--slurm-mem or --slurm-mem-per-cpu, not both/],
    [{ mem: '4 G' }, /--slurm-mem has a bad value "4 G"/],
    [{ time: 'forever' }, /--slurm-time has a bad value "forever"/],
    [{ partition: 'debug;rm -rf /' }, /--slurm-partition has a bad value/],
    [{ sbatchOptions: ['--constraint=avx2 --exclusive'] }, /is not one sbatch option/],
    [{ sbatchOptions: ['--array=0-9'] }, /--array is set by plateflow/],
    [{ sbatchOptions: ['-o'] }, /-o is set by plateflow/],
    [{ cpusPerTask: 0 }, /--slurm-cpus-per-task must be an integer ≥ 1/],
    [{ runId: '../x' }, /--run-id must be/],
  ] as const)('refuses %j', (options, message) => {
    expect(() => resolveSlurmOptions(options)).toThrow(message);
  });

  it('quotes words for bash only when needed', () => {
    expect(shellWord('/a/b-c_1.js')).toBe('/a/b-c_1.js');
    expect(shellWord("it's here")).toBe(`'it'\\''s here'`);
    expect(shellWord('$(reboot)')).toBe("'$(reboot)'");
  });
});

describe('an element that ended without a result', () => {
  const plan = { taskId: 'A01', axis: { well: 'A01' }, inputs: [{}, {}] } as unknown as TaskPlan;
  const context = { plan, element: '12_3', stderrTail: '', mem: '100M', time: '0:30', cancelledByUs: false };
  const record = (state: string, extra: Partial<{ reason: string; exitCode: number; signal: number }> = {}) => ({ jobId: '12', taskId: 3, state, reason: 'None', exitCode: 0, signal: 0, ...extra });

  it('still queued or running, or requeued: wait', () => {
    for (const state of ['PENDING', 'RUNNING', 'COMPLETING', 'REQUEUED']) expect(endingOf(record(state), context)).toEqual({ kind: 'wait' });
  });

  it('node failure or preemption: lost, not the task\'s fault', () => {
    expect(endingOf(record('NODE_FAIL'), context)).toEqual({ kind: 'lost', why: 'Slurm element 12_3 ended NODE_FAIL' });
    expect(endingOf(record('PREEMPTED', { reason: 'Preempted' }), context)).toMatchObject({ kind: 'lost', why: expect.stringContaining('(Preempted)') });
  });

  it('over its memory: killed, naming the limit and Slurm\'s line (OUT_OF_MEMORY, or FAILED with the jobacct line)', () => {
    const oom = endingOf(record('OUT_OF_MEMORY'), context);
    expect(oom).toMatchObject({ kind: 'result', result: { status: 'killed', error: { code: 'E_TASK_KILLED', message: 'killed by Slurm for exceeding its memory limit (--slurm-mem 100M)' } } });
    const line = 'slurmstepd: error: StepId=12.batch exceeded memory limit (628097024 > 104857600), being killed';
    const failed = endingOf(record('FAILED', { signal: 9 }), { ...context, stderrTail: `something\n${line}\nmore` });
    expect(failed).toMatchObject({ kind: 'result', result: { status: 'killed', error: { message: expect.stringContaining('exceeded memory limit (628097024 > 104857600)'), context: { reason: 'memory-limit' } } } });
  });

  it('past its time: timeout; cancelled by someone else: killed (so --retries resubmits it); by plateflow: cancelled', () => {
    expect(endingOf(record('TIMEOUT'), context)).toMatchObject({ kind: 'result', result: { status: 'timeout', error: { message: 'Slurm ended element 12_3 at its time limit (--slurm-time 0:30)' } } });
    expect(endingOf(record('CANCELLED'), context)).toMatchObject({ kind: 'result', result: { status: 'killed', error: { message: expect.stringContaining('cancelled outside plateflow') } } });
    expect(endingOf(record('CANCELLED'), { ...context, cancelledByUs: true })).toMatchObject({ kind: 'result', result: { status: 'cancelled' } });
  });

  it('any other end without a result, or one Slurm forgot: killed, saying so', () => {
    expect(endingOf(record('FAILED', { exitCode: 1 }), context)).toMatchObject({ kind: 'result', result: { status: 'killed', error: { message: 'Slurm element 12_3 ended FAILED (exit code 1) without a result' } } });
    expect(endingOf(undefined, context)).toMatchObject({ kind: 'result', result: { status: 'killed', error: { message: expect.stringContaining('ended without a result') } } });
  });
});

describe('what an element asks for when the user does not say', () => {
  const MIB = 1024 * 1024;

  it('memory: the task peak plus the element process (and Python), × 1.25, in 64 MiB steps, at least 512 MiB', () => {
    expect(defaultElementMemory(10 * MIB, false).mebibytes).toBe(512);
    expect(defaultElementMemory(10 * MIB, false).reason).toMatch(/task peak 10 MiB from the preflight estimate \+ 160 MiB for the element's process, × 1\.25, at least 512 MiB/);
    // (1000 + 160) × 1.25 = 1450 → 1472; with Python (+160) 1650 → 1664.
    expect(defaultElementMemory(1000 * MIB, false).mebibytes).toBe(1472);
    expect(defaultElementMemory(1000 * MIB, true)).toMatchObject({ mebibytes: 1664, reason: expect.stringContaining('160 MiB for its Python process') });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.boolean(), (bytes, python) => {
        const { mebibytes } = defaultElementMemory(bytes, python);
        return mebibytes % 64 === 0 && mebibytes * MIB >= bytes * 1.25 && mebibytes >= 512;
      }),
    );
  });

  it('memory given in any form (flag, per CPU, a passed-through --mem option) is never overridden', () => {
    expect(resolveSlurmOptions({}).memoryGiven).toBe(false);
    expect(resolveSlurmOptions({ mem: '2G' }).memoryGiven).toBe(true);
    expect(resolveSlurmOptions({ memPerCpu: '1G' }).memoryGiven).toBe(true);
    expect(resolveSlurmOptions({ sbatchOptions: ['--mem-per-gpu=8G'] }).memoryGiven).toBe(true);
    expect(resolveSlurmOptions({ sbatchOptions: ['--mail-type=END'] }).memoryGiven).toBe(false);
  });

  it('time: names the partition limit that applies', () => {
    const partitions = [
      { name: 'debug', isDefault: true, state: 'UP', defaultTime: 'NONE', maxTime: '7-00:00:00' },
      { name: 'long', isDefault: false, state: 'UP', defaultTime: '1:00:00', maxTime: 'UNLIMITED' },
    ];
    expect(describeDefaultTime(partitions, null)).toMatch(/partition debug's time limit \(no DefaultTime, so its MaxTime 7-00:00:00\)/);
    expect(describeDefaultTime(partitions, 'long')).toMatch(/partition long's time limit \(its DefaultTime 1:00:00\)/);
  });
});

describe('--slurm-gres and the GPUs plans are compiled for', () => {
  it('counts the GPUs of a gres list', () => {
    expect(gresGpuCount(undefined)).toBe(0);
    expect(gresGpuCount('gpu')).toBe(1);
    expect(gresGpuCount('gpu:2')).toBe(2);
    expect(gresGpuCount('gpu:a100:3')).toBe(3);
    expect(gresGpuCount('gpu:a100')).toBe(1);
    expect(gresGpuCount('shard:2,gpu:1')).toBe(1);
    expect(gresGpuCount('license:matlab:1')).toBe(0);
    expect(() => gresGpuCount('gpu:0')).toThrow(/needs a GPU count ≥ 1/);
    expect(() => gresGpuCount('gpu:a100:x')).toThrow(/needs a GPU count ≥ 1/);
  });

  it('an element maps its plan\'s GPU onto the devices Slurm gave it, and refuses when it gave none', () => {
    const plan = { taskId: 'A01', resources: { weight: 1, gpuId: 1 } } as unknown as TaskPlan;
    expect(onThisElementsGpu(plan, { CUDA_VISIBLE_DEVICES: '4,6' }).resources.gpuId).toBe(6);
    expect(onThisElementsGpu(plan, { CUDA_VISIBLE_DEVICES: '3' }).resources.gpuId).toBe(3);
    expect(() => onThisElementsGpu(plan, {})).toThrow(/planned for a GPU \(--slurm-gres\), but Slurm gave its element none/);
    const cpu = { taskId: 'A01', resources: { weight: 1, gpuId: null } } as unknown as TaskPlan;
    expect(onThisElementsGpu(cpu, {})).toBe(cpu);
  });
});
