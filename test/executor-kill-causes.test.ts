/**
 * What a task's `killed` result says about how its worker died: a SIGKILL is an out-of-memory kill
 * only when the cgroup's OOM-kill counter rose (a fake cgroup folder here, cgroup v2 and v1), never
 * by default; and a timeout message shows the limit in the unit it was given.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskTimeoutError } from '../src/execution/executors/errors.js';
import { describeChildExit, OomKillWitness, type ChildExit } from '../src/execution/executors/exit-causes.js';
import { readOomKills } from '../src/execution/resources/memory.js';
import { tempDir } from './helpers.js';

const sigkill: ChildExit = { pid: 4242, code: null, signal: 'SIGKILL', stderrTail: '' };

/** A fake file-system root: this process in cgroup `/job/step` with the given OOM-kill file. */
async function fakeCgroup(version: 'v2' | 'v1', oomKills: number): Promise<{ root: string; bump(to: number): Promise<void> }> {
  const root = await mkdtemp(path.join(await tempDir('plateflow-oom-'), 'root-'));
  await mkdir(path.join(root, 'proc/self'), { recursive: true });
  const dir = version === 'v2' ? 'sys/fs/cgroup/job/step' : 'sys/fs/cgroup/memory/job/step';
  await mkdir(path.join(root, dir), { recursive: true });
  await writeFile(path.join(root, 'proc/self/cgroup'), version === 'v2' ? '0::/job/step\n' : '4:memory:/job/step\n3:cpu:/\n');
  const write = (n: number) =>
    version === 'v2'
      ? writeFile(path.join(root, dir, 'memory.events'), `low 0\nhigh 0\nmax 12\noom 2\noom_kill ${n}\noom_group_kill 0\n`)
      : writeFile(path.join(root, dir, 'memory.oom_control'), `oom_kill_disable 0\nunder_oom 0\noom_kill ${n}\n`);
  await write(oomKills);
  return { root, bump: write };
}

describe('a worker killed by SIGKILL', () => {
  it.each(['v2', 'v1'] as const)('cgroup %s: the OOM-kill count rose while it ran → oom-kill, naming the evidence', async (version) => {
    const cgroup = await fakeCgroup(version, 3);
    const witness = new OomKillWitness(() => readOomKills({ root: cgroup.root }));
    await cgroup.bump(4);
    const err = describeChildExit('A01', sigkill, witness);
    const file = version === 'v2' ? '/sys/fs/cgroup/job/step/memory.events' : '/sys/fs/cgroup/memory/job/step/memory.oom_control';
    expect(err.reason).toBe('oom-kill');
    expect(err.message).toBe(`killed by signal 9 (SIGKILL) from the kernel's out-of-memory killer (the OOM-kill count in ${file} rose while it ran)`);
    expect(err.context).toMatchObject({ reason: 'oom-kill', signal: 'SIGKILL', pid: 4242, oomKillCounter: file });
  });

  it('no rise → signal, and the message says it was not the OOM killer', async () => {
    const cgroup = await fakeCgroup('v2', 3);
    const witness = new OomKillWitness(() => readOomKills({ root: cgroup.root }));
    const err = describeChildExit('A01', sigkill, witness);
    expect(err.reason).toBe('signal');
    expect(err.message).toMatch(/^killed by signal 9 \(SIGKILL\): not the out-of-memory killer \(the OOM-kill count in \/sys\/fs\/cgroup\/job\/step\/memory\.events did not rise\)/);
  });

  it('each rise explains one death: two workers OOM-killed together are both oom-kill, a later SIGKILL is not', async () => {
    const cgroup = await fakeCgroup('v2', 0);
    const witness = new OomKillWitness(() => readOomKills({ root: cgroup.root }));
    await cgroup.bump(2);
    expect(describeChildExit('A01', sigkill, witness).reason).toBe('oom-kill');
    expect(describeChildExit('A02', sigkill, witness).reason).toBe('oom-kill');
    expect(describeChildExit('A03', sigkill, witness).reason).toBe('signal');
  });

  it('no cgroup counter at all → signal, and says the cause is unknown', async () => {
    const root = await tempDir('plateflow-no-cgroup-');
    const witness = new OomKillWitness(() => readOomKills({ root }));
    const err = describeChildExit('A01', sigkill, witness);
    expect(err.reason).toBe('signal');
    expect(err.message).toBe('killed by signal 9 (SIGKILL): whether the out-of-memory killer sent it is unknown (no cgroup OOM-kill count to check)');
  });

  it('other signals and the V8 heap banner keep their own causes', async () => {
    const cgroup = await fakeCgroup('v2', 0);
    const witness = new OomKillWitness(() => readOomKills({ root: cgroup.root }));
    await cgroup.bump(1);
    expect(describeChildExit('A01', { code: null, signal: 'SIGSEGV', stderrTail: '' }, witness)).toMatchObject({ reason: 'signal', message: 'killed by signal 11 (SIGSEGV)' });
    expect(describeChildExit('A01', { code: null, signal: 'SIGABRT', stderrTail: 'FATAL ERROR: Reached heap limit' }, witness).reason).toBe('heap-oom');
  });

  it('this machine: the counter of this process\'s own cgroup is read, when there is one', () => {
    const real = readOomKills();
    if (os.platform() !== 'linux' || real === undefined) return;
    expect(real.count).toBeGreaterThanOrEqual(0);
    expect(real.file).toMatch(/^\/sys\/fs\/cgroup\/.*(memory\.events|memory\.oom_control)$/);
  });
});

describe('a timeout message', () => {
  it('shows the limit in the unit it was given', () => {
    expect(new TaskTimeoutError('A01', 1).message).toBe('timed out after 1 ms');
    expect(new TaskTimeoutError('A01', 1500).message).toBe('timed out after 1.5 s');
    expect(new TaskTimeoutError('A01', 120_000).message).toBe('timed out after 2 min');
  });
});
