/**
 * What the Slurm tests share: the real one-node cluster of scripts/slurm-cluster.sh. As root on
 * Linux the tests start it when it is not already up (installing the Debian packages the first
 * time); elsewhere they use the Slurm on PATH. They are skipped, saying why, when there is no
 * `sbatch` and the script cannot run, or when the cluster cannot run a trivial job.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.js';

export const CLUSTER_SCRIPT = path.join(REPO, 'scripts', 'slurm-cluster.sh');

const canStartCluster = process.platform === 'linux' && process.getuid?.() === 0;
const hasSbatch = () => spawnSync('sbatch', ['--version'], { encoding: 'utf8', timeout: 10_000 }).status === 0;

/** Up and taking jobs: the controller answers and the script's status says the node is usable. */
function clusterUp(): boolean {
  if (!hasSbatch()) return false;
  if (spawnSync('scontrol', ['ping'], { encoding: 'utf8', timeout: 30_000 }).status !== 0) return false;
  return !canStartCluster || spawnSync(CLUSTER_SCRIPT, ['status'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
}

/**
 * Makes sure the cluster runs. A cluster that is already up is left exactly as it is: another
 * test file may have lowered its MaxArraySize, and `start` with other settings would restart it.
 */
export function ensureSlurmCluster(): void {
  if (clusterUp() || !canStartCluster) return;
  // Bounded waits: a start that failed once (in .ci/run) must not hold every Slurm test file for minutes.
  const r = spawnSync(CLUSTER_SCRIPT, ['start'], { encoding: 'utf8', timeout: 15 * 60_000, env: { ...process.env, PLATEFLOW_SLURM_WAIT_S: '60' } });
  if (r.status !== 0) throw new Error(`${CLUSTER_SCRIPT} start failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

/**
 * Why the Slurm tests cannot run here, or undefined when they can. Decided once per test file, at
 * collection: the cluster is started if it can be, then one trivial job must run to its end. A node
 * that registers may still fail every launch (its jobs then wait, requeued and held, forever); every
 * test would then time out one by one, so they are skipped instead, with the cluster's own account
 * of why (the script's `diagnose`) printed.
 */
function clusterProblem(): string | undefined {
  if (!hasSbatch() && !canStartCluster) return `no sbatch on PATH, and ${CLUSTER_SCRIPT} cannot set up a cluster here (it needs root on Linux)`;
  try {
    ensureSlurmCluster();
  } catch (err) {
    return (err as Error).message;
  }
  if (!canStartCluster) return undefined;
  // The other Slurm test files may hold both CPUs for minutes: wait as long as the script allows.
  const smoke = spawnSync(CLUSTER_SCRIPT, ['smoke'], { encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, PLATEFLOW_SLURM_WAIT_S: '300' } });
  return smoke.status === 0 ? undefined : `a trivial job did not run on the cluster (${CLUSTER_SCRIPT} smoke, exit ${smoke.status}):\n${smoke.stdout}${smoke.stderr}`;
}

const problem = clusterProblem();
/** Whether the Slurm tests can run here. */
export const SLURM_AVAILABLE = problem === undefined;
export const SLURM_SKIP_MESSAGE = `skipped: ${problem}`;
if (problem !== undefined) console.warn(`Slurm tests ${SLURM_SKIP_MESSAGE}`);

/** Elements of a run still in the queue, as `<jobId>_<index>` (pending ranges expanded). */
export function queuedElements(runId: string): string[] {
  const out = execFileSync('squeue', ['-h', '-r', '--name', `plateflow-${runId}`, '-o', '%i'], { encoding: 'utf8', timeout: 30_000 });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The element running task `taskId` in the run folder (newest submission that has it). */
export function elementOf(runDir: string, taskId: string): string {
  const submissions = readdirSync(path.join(runDir, 'submissions')).filter((f) => /^\d+\.json$/.test(f)).map((f) => Number(f.slice(0, -5))).sort((a, b) => b - a);
  for (const n of submissions) {
    const { elements } = JSON.parse(readFileSync(path.join(runDir, 'submissions', `${n}.json`), 'utf8')) as { elements: { task: string }[] };
    const index = elements.findIndex((e) => decodeURIComponent(e.task.slice(e.task.indexOf('-') + 1)) === taskId);
    const job = path.join(runDir, 'submissions', `${n}.job`);
    if (index >= 0 && existsSync(job)) return `${readFileSync(job, 'utf8').trim()}_${index}`;
  }
  throw new Error(`no submitted element runs ${taskId} in ${runDir}`);
}

/** Every submission number of the run. */
export function submissionsOf(runDir: string): number[] {
  return readdirSync(path.join(runDir, 'submissions')).filter((f) => /^\d+\.json$/.test(f)).map((f) => Number(f.slice(0, -5)));
}
