/**
 * What the Slurm tests share: the real one-node cluster of scripts/slurm-cluster.sh. As root on
 * Linux the tests start it when it is not already up (installing the Debian packages the first
 * time); elsewhere they use the Slurm on PATH, and they are skipped, saying why, only when there is
 * no `sbatch` and the script cannot run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.js';

export const CLUSTER_SCRIPT = path.join(REPO, 'scripts', 'slurm-cluster.sh');

const canStartCluster = process.platform === 'linux' && process.getuid?.() === 0;
const hasSbatch = spawnSync('sbatch', ['--version'], { encoding: 'utf8', timeout: 10_000 }).status === 0;

/** Whether the Slurm tests can run here, decided when the file is collected. */
export const SLURM_AVAILABLE = hasSbatch || canStartCluster;
export const SLURM_SKIP_MESSAGE = `skipped: no sbatch on PATH, and ${CLUSTER_SCRIPT} cannot set up a cluster here (it needs root on Linux)`;
if (!SLURM_AVAILABLE) console.warn(`Slurm tests ${SLURM_SKIP_MESSAGE}`);

/** Up and taking jobs: the controller answers and the script's status says the node is usable. */
function clusterUp(): boolean {
  if (!hasSbatch) return false;
  if (spawnSync('scontrol', ['ping'], { encoding: 'utf8', timeout: 30_000 }).status !== 0) return false;
  return !canStartCluster || spawnSync(CLUSTER_SCRIPT, ['status'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
}

/**
 * Makes sure the cluster runs. A cluster that is already up is left exactly as it is: another
 * test file may have lowered its MaxArraySize, and `start` with other settings would restart it.
 */
export function ensureSlurmCluster(): void {
  if (clusterUp() || !canStartCluster) return;
  const r = spawnSync(CLUSTER_SCRIPT, ['start'], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`${CLUSTER_SCRIPT} start failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

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
