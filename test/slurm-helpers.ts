/**
 * What the Slurm tests share: the real one-node cluster of scripts/slurm-cluster.sh. As root on
 * Linux the tests start it when it is not already up (installing the Debian packages the first
 * time); elsewhere they use the Slurm on PATH, and they are skipped, saying why, only when there is
 * no `sbatch` and the script cannot run.
 */
import { spawnSync } from 'node:child_process';
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
