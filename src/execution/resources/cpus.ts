/**
 * How many CPUs this process may really use. `os.cpus().length` is the host's count; under Docker,
 * Kubernetes or Slurm the process usually gets far fewer, and a pool sized from the host count
 * oversubscribes (the bug the iohub reviewers hit on a 128-core node). We take the minimum of every
 * limit we can read and keep a record of each source so `plateflow resources` can explain the
 * choice.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type CpuSourceName = 'availableParallelism' | 'cgroup v2 cpu.max' | 'cgroup v1 cfs quota' | 'SLURM_CPUS_PER_TASK' | 'SLURM_CPUS_ON_NODE';

export interface CpuSource {
  readonly name: CpuSourceName;
  /** CPUs this source allows, or null when it sets no limit (absent, unlimited or unreadable). */
  readonly cpus: number | null;
  /** What was read and how it was interpreted, for a person. */
  readonly detail: string;
  /** File read, when the source is a file. */
  readonly file?: string;
}

export interface CpuProbe {
  /** The count to size pools with: the minimum over all sources, at least 1. */
  readonly cpus: number;
  /** Names of the sources that gave that minimum. */
  readonly chosenBy: readonly CpuSourceName[];
  readonly sources: readonly CpuSource[];
}

/** Where to read from; tests point `root` at a folder of fixture files and pass their own env. */
export interface ProbeEnvironment {
  /** File-system root that `/proc` and `/sys/fs/cgroup` are read under. @default '/' */
  readonly root?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** @default os.availableParallelism (which already honours CPU affinity, e.g. `taskset`) */
  readonly availableParallelism?: () => number;
}

/** Reads every CPU limit and returns the smallest. Never throws: an unreadable source is reported, not fatal. */
export function probeCpus(environment: ProbeEnvironment = {}): CpuProbe {
  const root = environment.root ?? '/';
  const env = environment.env ?? process.env;
  const parallelism = (environment.availableParallelism ?? os.availableParallelism)();
  const sources: CpuSource[] = [
    { name: 'availableParallelism', cpus: parallelism, detail: `os.availableParallelism() = ${parallelism} (host CPUs allowed by the affinity mask)` },
    cgroupV2(root),
    cgroupV1(root),
    slurm(env, 'SLURM_CPUS_PER_TASK'),
    slurm(env, 'SLURM_CPUS_ON_NODE'),
  ];
  let cpus = Infinity;
  for (const s of sources) if (s.cpus !== null && s.cpus < cpus) cpus = s.cpus;
  cpus = Number.isFinite(cpus) ? Math.max(1, cpus) : 1;
  return { cpus, chosenBy: sources.filter((s) => s.cpus === cpus).map((s) => s.name), sources };
}

/** The CPU count to size worker pools with (see {@link probeCpus} for the sources). */
export function availableCpus(environment: ProbeEnvironment = {}): number {
  return probeCpus(environment).cpus;
}

/** A quota of 1.5 CPUs allows one full worker without throttling; never return 0. */
function quotaToCpus(quota: number, period: number): number {
  return Math.max(1, Math.floor(quota / period));
}

interface CgroupLine {
  readonly id: string;
  readonly controllers: readonly string[];
  readonly path: string;
}

function readCgroupLines(root: string): CgroupLine[] | undefined {
  const text = readText(path.join(root, 'proc/self/cgroup'));
  if (text === undefined) return undefined;
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', controllers = '', ...rest] = line.split(':');
      return { id, controllers: controllers ? controllers.split(',') : [], path: rest.join(':') || '/' };
    });
}

/**
 * Directories from the process's own cgroup up to the mount point. A limit set on any ancestor
 * applies too, so every level is read. Inside a container without a cgroup namespace the path
 * named in /proc/self/cgroup does not exist under the mount; the mount root is then the only level.
 */
function cgroupLevels(mount: string, cgroupPath: string): string[] {
  const own = path.join(mount, cgroupPath);
  if (!existsSync(own)) return [mount];
  const levels: string[] = [];
  for (let dir = own; ; dir = path.dirname(dir)) {
    levels.push(dir);
    if (dir === mount || dir.length <= mount.length) break;
  }
  return levels;
}

function cgroupV2(root: string): CpuSource {
  const name = 'cgroup v2 cpu.max';
  const mount = path.join(root, 'sys/fs/cgroup');
  if (!existsSync(path.join(mount, 'cgroup.controllers'))) return { name, cpus: null, detail: 'no cgroup v2 hierarchy mounted at /sys/fs/cgroup' };
  const line = readCgroupLines(root)?.find((l) => l.id === '0' && l.controllers.length === 0);
  let best: { cpus: number; detail: string; file: string } | undefined;
  const seen: string[] = [];
  for (const dir of cgroupLevels(mount, line?.path ?? '/')) {
    const file = path.join(dir, 'cpu.max');
    const text = readText(file)?.trim();
    if (text === undefined) continue;
    seen.push(`${rel(root, file)}="${text}"`);
    const [max, period] = text.split(/\s+/);
    if (max === 'max') continue;
    const q = Number(max);
    const p = Number(period ?? 100000);
    if (!(q > 0 && p > 0)) continue;
    const cpus = quotaToCpus(q, p);
    if (!best || cpus < best.cpus) best = { cpus, detail: `quota ${q} / period ${p} = ${(q / p).toFixed(2)} CPUs → ${cpus}`, file: rel(root, file) };
  }
  if (best) return { name, cpus: best.cpus, detail: best.detail, file: best.file };
  return { name, cpus: null, detail: seen.length > 0 ? `no quota (${seen.join(', ')})` : 'no cpu.max file in this cgroup or its parents' };
}

function cgroupV1(root: string): CpuSource {
  const name = 'cgroup v1 cfs quota';
  const line = readCgroupLines(root)?.find((l) => l.controllers.includes('cpu'));
  if (!line) return { name, cpus: null, detail: 'no cgroup v1 cpu controller in /proc/self/cgroup' };
  const mount = ['sys/fs/cgroup/cpu,cpuacct', 'sys/fs/cgroup/cpuacct,cpu', 'sys/fs/cgroup/cpu'].map((m) => path.join(root, m)).find((m) => existsSync(m));
  if (!mount) return { name, cpus: null, detail: 'cpu controller listed but not mounted under /sys/fs/cgroup' };
  let best: { cpus: number; detail: string; file: string } | undefined;
  for (const dir of cgroupLevels(mount, line.path)) {
    const quota = Number(readText(path.join(dir, 'cpu.cfs_quota_us'))?.trim());
    const period = Number(readText(path.join(dir, 'cpu.cfs_period_us'))?.trim());
    if (!(quota > 0 && period > 0)) continue; // -1 means unlimited
    const cpus = quotaToCpus(quota, period);
    if (!best || cpus < best.cpus) best = { cpus, detail: `cfs_quota_us ${quota} / cfs_period_us ${period} = ${(quota / period).toFixed(2)} CPUs → ${cpus}`, file: rel(root, path.join(dir, 'cpu.cfs_quota_us')) };
  }
  return best ? { name, cpus: best.cpus, detail: best.detail, file: best.file } : { name, cpus: null, detail: 'cfs_quota_us is -1 (unlimited) or unreadable' };
}

function slurm(env: NodeJS.ProcessEnv, variable: 'SLURM_CPUS_PER_TASK' | 'SLURM_CPUS_ON_NODE'): CpuSource {
  const raw = env[variable];
  if (raw === undefined || raw === '') return { name: variable, cpus: null, detail: 'not set (not inside a Slurm job step)' };
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < 1) return { name: variable, cpus: null, detail: `ignored: "${raw}" is not a positive integer` };
  return { name: variable, cpus: n, detail: `${variable}=${raw}` };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function rel(root: string, file: string): string {
  return '/' + path.relative(root, file).split(path.sep).join('/');
}
