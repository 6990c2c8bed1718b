/**
 * plateflow's Slurm commands (src/distributed/slurm/commands.ts) against the real one-node
 * cluster: real sbatch, squeue, scontrol and scancel, real array jobs of `sleep`. Plus the output
 * parsers on text in the formats those commands print.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancel, listPartitions, queueStates, readSlurmConfig, showJob, submitBatch, type ElementState } from '../src/distributed/slurm/commands.js';
import { SlurmError } from '../src/distributed/slurm/errors.js';
import { expandTaskIds, parseExitCode, parseKeyValueRecord } from '../src/distributed/slurm/parse.js';
import { tempDir, waitFor } from './helpers.js';
import { SLURM_AVAILABLE, SLURM_SKIP_MESSAGE, ensureSlurmCluster } from './slurm-helpers.js';

/** Every job this file submits, cancelled after its tests whatever happened. */
const submitted: string[] = [];
let dir: string;

async function submit(script: string, args: readonly string[]): Promise<string> {
  const { jobId } = await submitBatch(script, [`--output=${dir}/%A_%a.out`, '--job-name=plateflow-test', ...args], { cwd: dir });
  submitted.push(jobId);
  return jobId;
}

async function rejection(promise: Promise<unknown>): Promise<SlurmError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SlurmError);
  return err as SlurmError;
}

const states = (list: readonly ElementState[]) => list.map((s) => `${s.taskId}:${s.state}`);

describe('Slurm output parsers', () => {
  it('expands array task id lists as squeue and scontrol print them', () => {
    expect(expandTaskIds('4')).toEqual([4]);
    expect(expandTaskIds('1-5%1')).toEqual([1, 2, 3, 4, 5]);
    expect(expandTaskIds('[0,3,7-9]')).toEqual([0, 3, 7, 8, 9]);
    expect(expandTaskIds('0-9:3')).toEqual([0, 3, 6, 9]);
    expect(expandTaskIds('N/A')).toEqual([]);
    expect(() => expandTaskIds('x-1')).toThrow(/unexpected array task id list/);
  });

  it('splits scontrol one-line records at the next Key=, keeping spaces inside values', () => {
    const fields = parseKeyValueRecord(
      'JobId=100 ArrayJobId=98 ArrayTaskId=1 JobName=my job JobState=PENDING Reason=ReqNodeNotAvail, UnavailableNodes:vm TRES=cpu=1,mem=100M CPUs/Task=1 ExitCode=0:9 StdErr=/tmp/a b/98_1.out',
    );
    expect(fields.get('JobName')).toBe('my job');
    expect(fields.get('Reason')).toBe('ReqNodeNotAvail, UnavailableNodes:vm');
    expect(fields.get('TRES')).toBe('cpu=1,mem=100M');
    expect(fields.get('CPUs/Task')).toBe('1');
    expect(fields.get('StdErr')).toBe('/tmp/a b/98_1.out');
    expect(parseExitCode(fields.get('ExitCode'))).toEqual({ exitCode: 0, signal: 9 });
  });
});

describe.skipIf(!SLURM_AVAILABLE)('Slurm commands on the real cluster', () => {
  beforeAll(async () => {
    ensureSlurmCluster();
    dir = await tempDir('plateflow-slurm-');
  }, 16 * 60_000);

  afterAll(async () => {
    await cancel(submitted);
  });

  it('reads the limits from scontrol show config and the partitions', async () => {
    const config = await readSlurmConfig();
    expect(config.maxArraySize).toBeGreaterThan(0);
    expect(config.maxJobCount).toBeGreaterThan(0);
    expect(config.minJobAgeSeconds).toBeGreaterThan(0);
    expect(config.version).toMatch(/^\d+\.\d+/);
    const partitions = await listPartitions();
    expect(partitions.filter((p) => p.isDefault)).toHaveLength(1);
    expect(partitions.find((p) => p.isDefault)!.state).toBe('UP');
  });

  it('reads every element of an array in one squeue call, and an element cancelled while running ends CANCELLED', async () => {
    const jobId = await submit('#!/bin/sh\nsleep 300\n', ['--array=0-2', '--time=10']);
    const first = await queueStates([jobId]);
    expect(first.map((s) => [s.jobId, s.taskId])).toEqual([
      [jobId, 0],
      [jobId, 1],
      [jobId, 2],
    ]);
    for (const s of first) expect(['PENDING', 'CONFIGURING', 'RUNNING']).toContain(s.state);

    // The machine may be busy with other tests' jobs: wait as long as it takes for one to run.
    const running = await waitFor('an element running', async () => (await queueStates([jobId])).find((s) => s.state === 'RUNNING'), 180_000, 250);
    await cancel([`${jobId}_${running.taskId}`]);
    const [record] = await waitFor(
      'the cancelled element to end',
      async () => {
        const r = await showJob(`${jobId}_${running.taskId}`);
        return r?.[0]?.state === 'CANCELLED' && r;
      },
      60_000,
      250,
    );
    expect(record).toMatchObject({ jobId, taskId: running.taskId, state: 'CANCELLED', signal: 15 });
    expect(record!.stdOut).toBe(path.join(dir, `${jobId}_${running.taskId}.out`));
    // Ended elements stay in squeue (MinJobAge) next to the others.
    const after = await queueStates([jobId]);
    expect(after.find((s) => s.taskId === running.taskId)?.state).toBe('CANCELLED');
    expect(after).toHaveLength(3);
    await cancel([jobId]);
  }, 300_000);

  it('forgets an element cancelled while still pending, and keeps the rest of its range', async () => {
    // --hold keeps the whole array pending, so the range record is what Slurm shows.
    const jobId = await submit('#!/bin/sh\nsleep 300\n', ['--array=0-2', '--hold']);
    expect((await queueStates([jobId])).map((s) => `${s.taskId}:${s.state}:${s.reason}`)).toEqual(['0:PENDING:JobHeldUser', '1:PENDING:JobHeldUser', '2:PENDING:JobHeldUser']);
    expect((await showJob(jobId))!.map((r) => r.taskId)).toEqual([0, 1, 2]);
    expect(await showJob(`${jobId}_2`)).toEqual([expect.objectContaining({ jobId, taskId: 2, state: 'PENDING', reason: 'JobHeldUser', exitCode: 0, signal: 0 })]);

    await cancel([`${jobId}_1`]);
    await waitFor('element 1 to vanish', async () => (await showJob(`${jobId}_1`)) === undefined, 30_000, 250);
    expect(states(await queueStates([jobId]))).toEqual(['0:PENDING', '2:PENDING']);
  });

  it('lists several arrays at once and ignores ids Slurm does not know', async () => {
    const a = await submit('#!/bin/sh\nsleep 300\n', ['--array=0-1', '--hold']);
    const b = await submit('#!/bin/sh\nsleep 300\n', ['--array=5', '--hold']);
    const unknown = String(Number(b) + 1_000_000);
    const listed = await queueStates([b, unknown, a]);
    expect(listed.map((s) => `${s.jobId}_${s.taskId}`)).toEqual([`${a}_0`, `${a}_1`, `${b}_5`]);
    expect(await queueStates([unknown])).toEqual([]);
    expect(await showJob(unknown)).toBeUndefined();
    await expect(cancel([unknown])).resolves.toBeUndefined();
  });

  it('reports a memory kill as signal 9 with "exceeded memory limit" in the element stderr', async () => {
    const touch = `${process.execPath} -e "globalThis.kept = Buffer.alloc(600 * 1024 * 1024, 1); setTimeout(() => {}, 60000)"`;
    const jobId = await submit(`#!/bin/sh\n${touch}\n`, ['--array=0', '--mem=100M', `--error=${dir}/%A_%a.err`, '--time=5']);
    const [record] = await waitFor(
      'the element to end',
      async () => {
        const r = await showJob(`${jobId}_0`);
        return r?.[0] && !['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING'].includes(r[0].state) && r;
      },
      180_000,
      250,
    );
    // Sampled once a second: the 600 MB must stay (globalThis.kept) to be seen.
    // Without a cgroup plugin Slurm's accounting gatherer kills the step: FAILED, not OUT_OF_MEMORY.
    expect(record).toMatchObject({ state: 'FAILED', signal: 9 });
    expect(await readFile(record!.stdErr!, 'utf8')).toMatch(/exceeded memory limit \(\d+ > 104857600\), being killed/);
  }, 240_000);

  it('refuses a job for a partition that does not exist, with sbatch’s message', async () => {
    const err = await rejection(submit('#!/bin/sh\ntrue\n', ['--partition=plateflow-no-such-partition']));
    expect(err.code).toBe('E_SLURM_REJECTED');
    expect(err.message).toMatch(/sbatch refused the job: .*invalid partition specified: plateflow-no-such-partition/s);
    expect(err.context.stderr).toMatch(/Invalid partition name specified/);
  });

  it('names a missing sbatch, a fake one that refuses, and a controller that does not answer', async () => {
    const empty = path.join(dir, 'empty-bin');
    await mkdir(empty, { recursive: true });
    const missing = await rejection(submitBatch('#!/bin/sh\ntrue\n', [], { env: { ...process.env, PATH: empty } }));
    expect(missing.code).toBe('E_SLURM_UNAVAILABLE');
    expect(missing.message).toContain(`sbatch not found on PATH (${empty})`);

    const fake = path.join(dir, 'fake-bin');
    await mkdir(fake, { recursive: true });
    await writeFile(path.join(fake, 'sbatch'), '#!/bin/sh\necho "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2\nexit 1\n');
    await chmod(path.join(fake, 'sbatch'), 0o755);
    const refused = await rejection(submitBatch('#!/bin/sh\ntrue\n', ['--account=nobody'], { binDir: fake }));
    expect(refused.code).toBe('E_SLURM_REJECTED');
    expect(refused.message).toContain('Invalid account or account/partition combination specified');

    // A copy of the cluster's config whose controller port nothing listens on.
    const conf = await readFile(slurmConfPath(), 'utf8');
    const badConf = path.join(dir, 'unreachable.conf');
    await writeFile(badConf, `${conf.replace(/^SlurmctldPort=.*$/m, '')}\nSlurmctldPort=9\n`);
    const env = { ...process.env, SLURM_CONF: badConf };
    const unreachable = await rejection(submitBatch('#!/bin/sh\ntrue\n', [], { env }));
    expect(unreachable.code).toBe('E_SLURM_UNAVAILABLE');
    expect(unreachable.message).toMatch(/Unable to contact slurm controller|did not finish within/);
    // squeue retries longer than sbatch: it is cut off at its deadline instead.
    const slow = await rejection(queueStates(['1'], { env, timeoutMs: 1500 }));
    expect(slow.code).toBe('E_SLURM_UNAVAILABLE');
    expect(slow.context.timedOut).toBe(true);
  }, 120_000);
});

/** The slurm.conf the commands read, as scontrol reports it. */
function slurmConfPath(): string {
  const line = execFileSync('scontrol', ['show', 'config'], { encoding: 'utf8', timeout: 30_000 })
    .split('\n')
    .find((l) => /^SLURM_CONF\s/.test(l));
  return line!.split('=')[1]!.trim();
}
