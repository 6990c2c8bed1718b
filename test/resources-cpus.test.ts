/**
 * CPU and memory probing, one source at a time, against fake /proc and /sys/fs/cgroup trees built
 * in a temp folder and a fake environment.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeCpus } from '../src/execution/resources/cpus.js';
import { workerEnv } from '../src/execution/resources/env-limits.js';
import { probeMemory } from '../src/execution/resources/memory.js';
import { formatDuration, parseBytes, parseDuration } from '../src/execution/resources/units.js';
import { tempDir } from './helpers.js';

/** Writes `files` (path relative to the fake root → content) and returns the root. */
async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await tempDir('plateflow-cgroup-');
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
  return root;
}

const eight = () => 8;
const source = (probe: ReturnType<typeof probeCpus>, name: string) => probe.sources.find((s) => s.name === name)!;

describe('probeCpus', () => {
  it('with no limits anywhere uses os.availableParallelism()', async () => {
    const probe = probeCpus({ root: await fakeRoot({}), env: {}, availableParallelism: eight });
    expect(probe).toMatchObject({ cpus: 8, chosenBy: ['availableParallelism'] });
    expect(source(probe, 'cgroup v2 cpu.max')).toMatchObject({ cpus: null, detail: expect.stringMatching(/no cgroup v2/) });
    expect(source(probe, 'SLURM_CPUS_PER_TASK')).toMatchObject({ cpus: null, detail: expect.stringMatching(/not set/) });
  });

  it('cgroup v2: reads cpu.max of its own cgroup and every parent, keeps the smallest', async () => {
    const root = await fakeRoot({
      'proc/self/cgroup': '0::/user.slice/job.scope\n',
      'sys/fs/cgroup/cgroup.controllers': 'cpu memory\n',
      'sys/fs/cgroup/user.slice/job.scope/cpu.max': '300000 100000\n',
      'sys/fs/cgroup/user.slice/cpu.max': '250000 100000\n',
      'sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    const probe = probeCpus({ root, env: {}, availableParallelism: eight });
    expect(probe.cpus).toBe(2);
    expect(probe.chosenBy).toEqual(['cgroup v2 cpu.max']);
    expect(source(probe, 'cgroup v2 cpu.max')).toMatchObject({ cpus: 2, file: '/sys/fs/cgroup/user.slice/cpu.max', detail: 'quota 250000 / period 100000 = 2.50 CPUs → 2' });
  });

  it('cgroup v2 in a container (own path not under the mount) reads the mount root; "max" is no limit', async () => {
    const limited = await fakeRoot({ 'proc/self/cgroup': '0::/kubepods/pod1/ctr\n', 'sys/fs/cgroup/cgroup.controllers': '', 'sys/fs/cgroup/cpu.max': '150000 100000' });
    expect(probeCpus({ root: limited, env: {}, availableParallelism: eight }).cpus).toBe(1);
    const unlimited = await fakeRoot({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cgroup.controllers': '', 'sys/fs/cgroup/cpu.max': 'max 100000' });
    const probe = probeCpus({ root: unlimited, env: {}, availableParallelism: eight });
    expect(probe.cpus).toBe(8);
    expect(source(probe, 'cgroup v2 cpu.max').detail).toMatch(/no quota .*"max 100000"/);
  });

  it('a fractional quota below one CPU still allows one worker', async () => {
    const root = await fakeRoot({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cgroup.controllers': '', 'sys/fs/cgroup/cpu.max': '50000 100000' });
    expect(probeCpus({ root, env: {}, availableParallelism: eight }).cpus).toBe(1);
  });

  it('cgroup v1: cfs_quota_us ÷ cfs_period_us of the cpu controller; -1 is unlimited', async () => {
    const root = await fakeRoot({
      'proc/self/cgroup': '5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n',
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '350000\n',
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    const probe = probeCpus({ root, env: {}, availableParallelism: eight });
    expect(probe).toMatchObject({ cpus: 3, chosenBy: ['cgroup v1 cfs quota'] });
    expect(source(probe, 'cgroup v1 cfs quota').detail).toBe('cfs_quota_us 350000 / cfs_period_us 100000 = 3.50 CPUs → 3');
    const unlimited = await fakeRoot({ 'proc/self/cgroup': '4:cpu,cpuacct:/\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000' });
    expect(probeCpus({ root: unlimited, env: {}, availableParallelism: eight }).cpus).toBe(8);
  });

  it('Slurm: SLURM_CPUS_PER_TASK and SLURM_CPUS_ON_NODE, the smaller wins; junk is ignored and said so', async () => {
    const root = await fakeRoot({});
    expect(probeCpus({ root, env: { SLURM_CPUS_PER_TASK: '3' }, availableParallelism: eight })).toMatchObject({ cpus: 3, chosenBy: ['SLURM_CPUS_PER_TASK'] });
    expect(probeCpus({ root, env: { SLURM_CPUS_PER_TASK: '6', SLURM_CPUS_ON_NODE: '4' }, availableParallelism: eight })).toMatchObject({ cpus: 4, chosenBy: ['SLURM_CPUS_ON_NODE'] });
    const junk = probeCpus({ root, env: { SLURM_CPUS_PER_TASK: 'two' }, availableParallelism: eight });
    expect(junk.cpus).toBe(8);
    expect(source(junk, 'SLURM_CPUS_PER_TASK').detail).toBe('ignored: "two" is not a positive integer');
  });

  it('the minimum over all sources wins, and ties name every source', async () => {
    const root = await fakeRoot({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cgroup.controllers': '', 'sys/fs/cgroup/cpu.max': '200000 100000' });
    const probe = probeCpus({ root, env: { SLURM_CPUS_PER_TASK: '2', SLURM_CPUS_ON_NODE: '16' }, availableParallelism: eight });
    expect(probe).toMatchObject({ cpus: 2, chosenBy: ['cgroup v2 cpu.max', 'SLURM_CPUS_PER_TASK'] });
  });
});

describe('probeMemory', () => {
  it('takes the smallest of installed memory, cgroup v2 memory.max and SLURM_MEM_PER_NODE', async () => {
    const root = await fakeRoot({ 'proc/self/cgroup': '0::/job\n', 'sys/fs/cgroup/job/memory.max': String(6 * 2 ** 30) });
    const gib = (n: number) => n * 2 ** 30;
    expect(probeMemory({ root, env: {}, totalmem: () => gib(16), freemem: () => gib(10) })).toMatchObject({ limitBytes: gib(6), freeBytes: gib(6) });
    expect(probeMemory({ root, env: { SLURM_MEM_PER_NODE: '4096' }, totalmem: () => gib(16), freemem: () => gib(10) }).limitBytes).toBe(gib(4));
    const unlimited = await fakeRoot({ 'sys/fs/cgroup/memory.max': 'max', 'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' });
    const probe = probeMemory({ root: unlimited, env: {}, totalmem: () => gib(16), freemem: () => gib(10) });
    expect(probe.limitBytes).toBe(gib(16));
    expect(probe.sources.map((s) => s.detail)).toContain('unlimited');
  });
});

describe('worker environment', () => {
  it('gives each child its share of CPUs for native thread pools, keeps what the user set, and pins its GPU', () => {
    const env = workerEnv({ workers: 2, cpus: 8, gpuId: 1, base: { PATH: '/bin', MKL_NUM_THREADS: '2' } });
    expect(env).toMatchObject({ PATH: '/bin', OMP_NUM_THREADS: '4', OPENBLAS_NUM_THREADS: '4', MKL_NUM_THREADS: '2', UV_THREADPOOL_SIZE: '8', CUDA_VISIBLE_DEVICES: '1' });
    expect(workerEnv({ workers: 4, cpus: 2, base: {} })).toMatchObject({ OMP_NUM_THREADS: '1', UV_THREADPOOL_SIZE: '4' });
    expect(workerEnv({ workers: 4, cpus: 2, base: {} }).CUDA_VISIBLE_DEVICES).toBeUndefined();
  });
});

describe('units', () => {
  it('shows a duration in the largest unit it reaches, as a person would write it', () => {
    expect([1, 50, 999, 1000, 1500, 3500, 30_000, 59_990, 60_000, 90_000, 120_000, 5_400_000].map(formatDuration)).toEqual([
      '1 ms', '50 ms', '999 ms', '1 s', '1.5 s', '3.5 s', '30 s', '59.99 s', '1 min', '1.5 min', '2 min', '1.5 h',
    ]);
    expect(formatDuration(0.5)).toBe('0.5 ms');
  });

  it('parses durations and sizes people write, and names the flag when it cannot', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5')).toBe(1500);
    expect(() => parseDuration('0s', '--timeout')).toThrow(/--timeout must be a positive duration.*"0s"/);
    // Rounds to 0 ms, which a timer would read as "no limit".
    expect(() => parseDuration('0.4ms', '--timeout')).toThrow(/at least 1ms.*"0.4ms"/);
    expect(parseDuration('1ms')).toBe(1);
    expect(parseBytes('2GB')).toBe(2 * 2 ** 30);
    expect(parseBytes('512M')).toBe(512 * 2 ** 20);
    expect(parseBytes('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(() => parseBytes('lots', '--worker-memory')).toThrow(expect.objectContaining({ code: 'E_CONFIG_INVALID', message: expect.stringMatching(/--worker-memory.*"lots"/) }));
  });
});
