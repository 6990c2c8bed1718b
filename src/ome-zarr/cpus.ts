/**
 * How many CPUs this process may really use — never the node's 128 cores when Slurm or a cgroup
 * gave the job 8.
 *
 * The smallest of: `SLURM_CPUS_PER_TASK` (when set), the cgroup CPU quota (v2 `cpu.max`, or v1
 * `cpu.cfs_quota_us / cpu.cfs_period_us`, rounded up), and `os.availableParallelism()` (which
 * already honours the affinity mask, e.g. `taskset` or Slurm's cpuset). At least 1.
 *
 * Local to `ome-zarr/` until the executors' resource probe (`execution/resources/`) lands; then
 * this should defer to it so both count the same way.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** CPUs allowed by the cgroup quota, or undefined when there is no quota (or no cgroup fs). */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  try {
    const [quota, period] = readFileSync(`${root}/cpu.max`, 'utf8').trim().split(/\s+/);
    if (quota !== undefined && quota !== 'max' && Number(period) > 0) return Math.max(1, Math.ceil(Number(quota) / Number(period)));
    if (quota === 'max') return undefined;
  } catch {
    // not cgroup v2; try v1
  }
  const q = readNumber(`${root}/cpu/cpu.cfs_quota_us`) ?? readNumber(`${root}/cpu.cfs_quota_us`);
  const p = readNumber(`${root}/cpu/cpu.cfs_period_us`) ?? readNumber(`${root}/cpu.cfs_period_us`);
  if (q !== undefined && p !== undefined && q > 0 && p > 0) return Math.max(1, Math.ceil(q / p));
  return undefined;
}

export function availableCpus(env: NodeJS.ProcessEnv = process.env): number {
  const limits = [os.availableParallelism()];
  const slurm = Number(env['SLURM_CPUS_PER_TASK']);
  if (Number.isInteger(slurm) && slurm > 0) limits.push(slurm);
  const cgroup = cgroupCpuLimit();
  if (cgroup !== undefined) limits.push(cgroup);
  return Math.max(1, Math.min(...limits));
}
