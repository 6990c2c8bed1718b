/**
 * The only code in plateflow that runs Slurm commands (`sbatch`, `squeue`, `scontrol`, `scancel`).
 * Each runs through execFile (never a shell) with a deadline, and returns parsed data; every
 * failure is a `SlurmError` whose code says whether Slurm is unreachable, refused a job, or failed
 * otherwise.
 *
 * Commands are looked up on the PATH of the environment they run with (`opts.env`, else
 * `process.env`), or in the directory `opts.binDir` / `PLATEFLOW_SLURM_BIN` names, for clusters
 * that keep Slurm off PATH. `SLURM_CONF` in that environment picks the cluster, as for any Slurm
 * command.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { SlurmError, type SlurmErrorCode } from './errors.js';
import { byJobThenTask, expandTaskIds, leadingInteger, parseConfigLines, parseExitCode, parseKeyValueRecord } from './parse.js';

export interface SlurmCommandOptions {
  /** A Slurm command is killed after this long; the controller retries for a while before it gives up. @default 30_000 */
  readonly timeoutMs?: number;
  /** Environment of the command (and, for sbatch, of the job). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory holding the Slurm commands. @default env.PLATEFLOW_SLURM_BIN, else looked up on env.PATH */
  readonly binDir?: string;
}

export interface SubmitOptions extends SlurmCommandOptions {
  /** Working directory of sbatch, which becomes the job's unless the script or args say otherwise. */
  readonly cwd?: string;
}

export interface SlurmConfig {
  /** Array task ids must be below this (0 … MaxArraySize-1): it bounds the index, not only the count. */
  readonly maxArraySize: number;
  readonly maxJobCount: number;
  /** How long squeue and scontrol still show a job after it ended. */
  readonly minJobAgeSeconds: number;
  readonly version: string;
}

export interface PartitionInfo {
  readonly name: string;
  readonly isDefault: boolean;
  /** UP, DOWN, DRAIN or INACTIVE. */
  readonly state: string;
  /** A job's time limit when it gives none (`NONE`: the MaxTime applies), as scontrol prints it. */
  readonly defaultTime: string;
  /** `UNLIMITED` or a time as scontrol prints it. */
  readonly maxTime: string;
}

export interface ElementState {
  /** The array's job id (the id sbatch printed), not the element's own job id. */
  readonly jobId: string;
  readonly taskId: number;
  /** squeue's long state: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, … */
  readonly state: string;
  /** Why it waits or ended, e.g. Resources, JobArrayTaskLimit, NonZeroExitCode, JobLaunchFailure, TimeLimit; `None` when there is none. */
  readonly reason: string;
}

export interface JobRecord {
  /** The array's job id for an array element, else the job's own id. */
  readonly jobId: string;
  /** The element's task id; null for a job that is not an array. */
  readonly taskId: number | null;
  readonly state: string;
  readonly reason: string;
  /** Exit status of the batch script (0 when a signal ended it). */
  readonly exitCode: number;
  /** Signal that ended the batch script: 9 after a memory kill, 15 after scancel or a time limit; 0 for none. */
  readonly signal: number;
  /** Where the element's stderr/stdout go (with %A, %a … already filled in). */
  readonly stdErr?: string;
  readonly stdOut?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** squeue lists one row per element; plenty for hundreds of thousands of rows. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * Slurm's wording when it cannot be reached: controller down or unreachable, munge not running,
 * no usable slurm.conf. Anything else a command prints on failure is about the request.
 */
const UNREACHABLE =
  /Unable to contact slurm controller|Socket timed out|Zero Bytes were transmitted|Communication connection failure|Protocol authentication error|Munge encode failed|Could not establish a configuration source|Unable to process configuration file/i;
/** scontrol/squeue naming an id the controller does not (or no longer) know. */
const UNKNOWN_JOB = /Invalid job id specified|^Job \S+ not found/im;

type SlurmCommand = 'sbatch' | 'squeue' | 'scontrol' | 'scancel';

interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  /** 0 on success. */
  readonly exitCode: number;
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * Runs one Slurm command. Throws `E_SLURM_UNAVAILABLE` when it cannot run, times out or cannot
 * reach the cluster; a non-zero exit otherwise comes back for the caller to judge.
 */
function run(name: SlurmCommand, args: readonly string[], opts: SubmitOptions, stdin?: string): Promise<Ran> {
  const env = opts.env ?? process.env;
  const binDir = opts.binDir ?? env.PLATEFLOW_SLURM_BIN;
  const command = binDir ? path.join(binDir, name) : name;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      { env, cwd: opts.cwd, timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const said = stderr.trim();
        const failure = { command, args, stderr: said, exitCode: null, timedOut: false };
        if (!err) return resolve({ stdout, stderr: said, exitCode: 0, command, args });
        if (err.code === 'ENOENT') {
          const where = binDir ? `in ${binDir}` : `on PATH (${env.PATH ?? 'unset'})`;
          return reject(new SlurmError('E_SLURM_UNAVAILABLE', `${name} not found ${where}: is Slurm installed here?`, failure, { cause: err }));
        }
        // err.code is the exit status when the command exited by itself; an errno-like string when
        // it could not start or flooded its output; null when a signal ended it.
        if (typeof err.code === 'string') {
          return reject(new SlurmError('E_SLURM_COMMAND', `${name} could not run: ${err.message}`, failure, { cause: err }));
        }
        if (err.killed) {
          const message = `${name} ${args.join(' ')} did not finish within ${timeoutMs} ms (is slurmctld up?)${said ? `: ${said}` : ''}`;
          return reject(new SlurmError('E_SLURM_UNAVAILABLE', message, { ...failure, timedOut: true }, { cause: err }));
        }
        if (typeof err.code !== 'number') {
          return reject(new SlurmError('E_SLURM_COMMAND', `${name} was killed by ${err.signal ?? 'a signal'}${said ? `: ${said}` : ''}`, failure, { cause: err }));
        }
        const exitCode = err.code;
        if (UNREACHABLE.test(said)) {
          return reject(new SlurmError('E_SLURM_UNAVAILABLE', `${name} cannot reach the Slurm cluster: ${said}`, { ...failure, exitCode }));
        }
        resolve({ stdout, stderr: said, exitCode, command, args });
      },
    );
    // sbatch reads the script from stdin. If it exits before reading (not found, bad option)
    // writing fails with EPIPE; the exit callback above reports the real cause.
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin ?? '');
  });
}

/**
 * The error for a command that exited non-zero (the message carries what it said) or whose output
 * made no sense (`detail` says what was wrong with it).
 */
function failed(ran: Ran, code: SlurmErrorCode, what: string, detail?: string): SlurmError {
  const said = ran.stderr || ran.stdout.trim() || `${path.basename(ran.command)} exited with ${ran.exitCode}`;
  return new SlurmError(code, `${what}: ${detail ?? said}`, {
    command: ran.command,
    args: ran.args,
    stderr: ran.stderr,
    exitCode: ran.exitCode,
    timedOut: false,
  });
}

/**
 * Ids reach the command line as arguments, so each must be a job id ("123") or an element
 * ("123_4"), never something a command could read as an option. Returns each id's task id.
 */
function checkIds(name: SlurmCommand, ids: readonly string[]): (number | undefined)[] {
  return ids.map((id) => {
    const m = /^\d+(?:_(\d+))?$/.exec(id);
    if (!m) throw new SlurmError('E_SLURM_COMMAND', `${name}: not a Slurm job id: ${JSON.stringify(id)} (expected "123" or "123_4")`, { command: name, args: [...ids], stderr: '', exitCode: null, timedOut: false });
    return m[1] === undefined ? undefined : Number(m[1]);
  });
}

/** The task ids of a list in a command's output; one that does not parse is that command's failure. */
function taskIdsIn(ran: Ran, spec: string): number[] {
  try {
    return expandTaskIds(spec);
  } catch (err) {
    throw failed(ran, 'E_SLURM_COMMAND', path.basename(ran.command), (err as Error).message);
  }
}

/** The limits plateflow needs from `scontrol show config`. */
export async function readSlurmConfig(opts: SlurmCommandOptions = {}): Promise<SlurmConfig> {
  const ran = await run('scontrol', ['show', 'config'], opts);
  if (ran.exitCode !== 0) throw failed(ran, 'E_SLURM_COMMAND', 'scontrol show config failed');
  const config = parseConfigLines(ran.stdout);
  const number = (key: string): number => {
    const n = leadingInteger(config.get(key));
    if (n === undefined) throw failed(ran, 'E_SLURM_COMMAND', 'scontrol show config', `no whole number for ${key} in its output`);
    return n;
  };
  return {
    maxArraySize: number('MaxArraySize'),
    maxJobCount: number('MaxJobCount'),
    minJobAgeSeconds: number('MinJobAge'),
    version: config.get('SLURM_VERSION') ?? '',
  };
}

/** The cluster's partitions, from `scontrol show partition`. */
export async function listPartitions(opts: SlurmCommandOptions = {}): Promise<PartitionInfo[]> {
  const ran = await run('scontrol', ['show', 'partition', '--oneliner'], opts);
  if (ran.exitCode !== 0) throw failed(ran, 'E_SLURM_COMMAND', 'scontrol show partition failed');
  const partitions: PartitionInfo[] = [];
  for (const line of ran.stdout.split('\n')) {
    const fields = parseKeyValueRecord(line);
    const name = fields.get('PartitionName');
    if (name) partitions.push({ name, isDefault: fields.get('Default') === 'YES', state: fields.get('State') ?? '', defaultTime: fields.get('DefaultTime') ?? 'NONE', maxTime: fields.get('MaxTime') ?? 'UNLIMITED' });
  }
  return partitions;
}

/**
 * Submits `script` (given to sbatch on stdin) with sbatch options `args`, e.g.
 * `['--array=0-9%4', '--partition=debug']`. A refusal is `E_SLURM_REJECTED` with sbatch's message.
 */
export async function submitBatch(script: string, args: readonly string[], opts: SubmitOptions = {}): Promise<{ jobId: string }> {
  const ran = await run('sbatch', ['--parsable', ...args], opts, script);
  if (ran.exitCode !== 0) throw failed(ran, 'E_SLURM_REJECTED', 'sbatch refused the job');
  // --parsable prints "jobid" or, on a federation, "jobid;cluster".
  const jobId = ran.stdout.trim().split('\n').pop()?.split(';')[0]?.trim() ?? '';
  if (!/^\d+$/.test(jobId)) throw failed(ran, 'E_SLURM_COMMAND', 'sbatch', `no job id in its output ${JSON.stringify(ran.stdout.trim())}`);
  return { jobId };
}

/**
 * Has sbatch check `script` and `args` without submitting anything (`--test-only`): a bad option,
 * a partition that does not exist or limits the partition cannot meet are `E_SLURM_REJECTED` with
 * sbatch's message, before any task is queued.
 */
export async function testSubmit(script: string, opts: SubmitOptions = {}): Promise<void> {
  const ran = await run('sbatch', ['--test-only'], opts, script);
  if (ran.exitCode !== 0) throw failed(ran, 'E_SLURM_REJECTED', 'sbatch refused the job');
}

/**
 * The state of every element of the array jobs `jobIds` that Slurm still knows (pending, running,
 * and ended less than MinJobAge ago), from ONE squeue call, one entry per element: pending ranges
 * are expanded. Jobs that are not arrays are left out (plateflow submits every task as an array
 * element). An element that Slurm has forgotten, or that was cancelled while still pending, is
 * simply absent.
 */
export async function queueStates(jobIds: readonly string[], opts: SlurmCommandOptions = {}): Promise<ElementState[]> {
  if (jobIds.length === 0) return [];
  checkIds('squeue', jobIds);
  const ran = await run('squeue', ['--noheader', '--array', '--states=all', `--jobs=${jobIds.join(',')}`, '--format=%F|%K|%T|%r'], opts);
  if (ran.exitCode !== 0) {
    // squeue fails this way when every id it was given is unknown.
    if (UNKNOWN_JOB.test(ran.stderr)) return [];
    throw failed(ran, 'E_SLURM_COMMAND', 'squeue failed');
  }
  const states: ElementState[] = [];
  for (const line of ran.stdout.split('\n')) {
    // Blank lines, and the "CLUSTER: name" line squeue adds when SLURM_CLUSTERS is set.
    if (line.trim() === '' || line.startsWith('CLUSTER: ')) continue;
    const [jobId, tasks, state, ...reason] = line.split('|');
    if (tasks === undefined || state === undefined) throw failed(ran, 'E_SLURM_COMMAND', 'squeue', `unexpected line ${JSON.stringify(line)}`);
    for (const taskId of taskIdsIn(ran, tasks)) states.push({ jobId: jobId!.trim(), taskId, state: state.trim(), reason: reason.join('|').trim() });
  }
  return states.sort(byJobThenTask);
}

/**
 * What `scontrol show job` says about a job (`"123"`: every element of array 123) or one element
 * (`"123_4"`), one record per element; undefined once Slurm no longer knows it (MinJobAge after it
 * ended, or a pending element that was cancelled).
 */
export async function showJob(id: string, opts: SlurmCommandOptions = {}): Promise<JobRecord[] | undefined> {
  const onlyTask = checkIds('scontrol', [id])[0];
  const ran = await run('scontrol', ['show', 'job', '--oneliner', id], opts);
  if (ran.exitCode !== 0) {
    if (UNKNOWN_JOB.test(`${ran.stderr}\n${ran.stdout}`)) return undefined;
    throw failed(ran, 'E_SLURM_COMMAND', `scontrol show job ${id} failed`);
  }
  const records: JobRecord[] = [];
  for (const line of ran.stdout.split('\n')) {
    const fields = parseKeyValueRecord(line);
    const ownId = fields.get('JobId');
    if (!ownId) continue;
    const arrayId = fields.get('ArrayJobId');
    // A pending range is one record ("ArrayTaskId=2-5%1"); it stands for each of its elements.
    const taskIds: (number | null)[] = arrayId ? taskIdsIn(ran, fields.get('ArrayTaskId') ?? '') : [null];
    const { exitCode, signal } = parseExitCode(fields.get('ExitCode'));
    const stdErr = fields.get('StdErr');
    const stdOut = fields.get('StdOut');
    for (const taskId of taskIds) {
      if (onlyTask !== undefined && taskId !== onlyTask) continue;
      records.push({
        jobId: arrayId ?? ownId,
        taskId,
        state: fields.get('JobState') ?? '',
        reason: fields.get('Reason') ?? '',
        exitCode,
        signal,
        ...(stdErr ? { stdErr } : {}),
        ...(stdOut ? { stdOut } : {}),
      });
    }
  }
  return records.length > 0 ? records.sort(byJobThenTask) : undefined;
}

/**
 * `scancel` for jobs or elements (`"123"`, `"123_4"`). Ids Slurm does not know, and jobs that
 * already ended, are not an error (scancel itself says nothing about them).
 */
export async function cancel(ids: readonly string[], opts: SlurmCommandOptions = {}): Promise<void> {
  if (ids.length === 0) return;
  checkIds('scancel', ids);
  const ran = await run('scancel', [...ids], opts);
  if (ran.exitCode !== 0 && !UNKNOWN_JOB.test(ran.stderr)) throw failed(ran, 'E_SLURM_COMMAND', `scancel ${ids.join(' ')} failed`);
}

/**
 * The working directories of the jobs named `name` that Slurm still lists (plateflow runs its
 * elements in the run folder, so this finds a run from its id alone).
 */
export async function workDirsOf(name: string, opts: SlurmCommandOptions = {}): Promise<string[]> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new SlurmError('E_SLURM_COMMAND', `squeue: not a job name: ${JSON.stringify(name)}`, { command: 'squeue', args: [name], stderr: '', exitCode: null, timedOut: false });
  const ran = await run('squeue', ['--noheader', '--states=all', `--name=${name}`, '--format=%Z'], opts);
  if (ran.exitCode !== 0) throw failed(ran, 'E_SLURM_COMMAND', 'squeue failed');
  return [...new Set(ran.stdout.split('\n').map((l) => l.trim()).filter(Boolean))];
}
