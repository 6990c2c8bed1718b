/**
 * How much memory the run may use: the host total, narrowed by a cgroup limit or a Slurm
 * allocation. Used to warn when `workers × --worker-memory` cannot fit, and shown by
 * `plateflow resources`. Also the kernel's count of out-of-memory kills in this cgroup, the only
 * evidence that tells an OOM kill from any other SIGKILL.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProbeEnvironment } from './cpus.js';

export interface MemorySource {
  readonly name: 'os.totalmem' | 'cgroup v2 memory.max' | 'cgroup v1 memory.limit_in_bytes' | 'SLURM_MEM_PER_NODE';
  readonly bytes: number | null;
  readonly detail: string;
}

export interface MemoryProbe {
  /** The smallest limit found, in bytes. */
  readonly limitBytes: number;
  readonly freeBytes: number;
  readonly sources: readonly MemorySource[];
}

const MiB = 1024 * 1024;
/** cgroup v1 reports "unlimited" as a page-rounded 2^63-1. */
const V1_UNLIMITED = 2 ** 60;

export function probeMemory(environment: Omit<ProbeEnvironment, 'availableParallelism'> & { totalmem?: () => number; freemem?: () => number } = {}): MemoryProbe {
  const root = environment.root ?? '/';
  const env = environment.env ?? process.env;
  const total = (environment.totalmem ?? os.totalmem)();
  const sources: MemorySource[] = [{ name: 'os.totalmem', bytes: total, detail: `${(total / MiB).toFixed(0)} MiB installed` }];

  const ownV2 = cgroupPath(root, (id, controllers) => id === '0' && controllers === '');
  const v2 = readText(path.join(root, 'sys/fs/cgroup', ownV2 ?? '/', 'memory.max')) ?? readText(path.join(root, 'sys/fs/cgroup/memory.max'));
  if (v2 === undefined) sources.push({ name: 'cgroup v2 memory.max', bytes: null, detail: 'no memory.max' });
  else if (v2 === 'max') sources.push({ name: 'cgroup v2 memory.max', bytes: null, detail: 'memory.max = max (unlimited)' });
  else sources.push({ name: 'cgroup v2 memory.max', bytes: Number(v2), detail: `memory.max = ${v2}` });

  const ownV1 = cgroupPath(root, (_id, controllers) => controllers.split(',').includes('memory'));
  const v1 = readText(path.join(root, 'sys/fs/cgroup/memory', ownV1 ?? '/', 'memory.limit_in_bytes')) ?? readText(path.join(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes'));
  if (v1 === undefined || !(Number(v1) > 0)) sources.push({ name: 'cgroup v1 memory.limit_in_bytes', bytes: null, detail: 'not present' });
  else if (Number(v1) >= V1_UNLIMITED) sources.push({ name: 'cgroup v1 memory.limit_in_bytes', bytes: null, detail: 'unlimited' });
  else sources.push({ name: 'cgroup v1 memory.limit_in_bytes', bytes: Number(v1), detail: `memory.limit_in_bytes = ${v1}` });

  const slurmMb = Number(env.SLURM_MEM_PER_NODE);
  if (Number.isInteger(slurmMb) && slurmMb > 0) sources.push({ name: 'SLURM_MEM_PER_NODE', bytes: slurmMb * MiB, detail: `SLURM_MEM_PER_NODE=${env.SLURM_MEM_PER_NODE} (MiB)` });
  else sources.push({ name: 'SLURM_MEM_PER_NODE', bytes: null, detail: env.SLURM_MEM_PER_NODE ? `ignored: "${env.SLURM_MEM_PER_NODE}" is not a positive integer` : 'not set' });

  let limit = total;
  for (const s of sources) if (s.bytes !== null && s.bytes > 0 && s.bytes < limit) limit = s.bytes;
  return { limitBytes: limit, freeBytes: Math.min(limit, (environment.freemem ?? os.freemem)()), sources };
}

/** The kernel's out-of-memory kill counter of this process's memory cgroup, and the file it came from. */
export interface OomKillCount {
  readonly count: number;
  readonly file: string;
}

/**
 * Reads `oom_kill` from cgroup v2 `memory.events` (kills of this cgroup's processes, and its
 * descendants', by any OOM killer: the cgroup's limit or the whole machine's) or, under cgroup v1,
 * from `memory.oom_control` (Linux ≥ 4.13). Undefined when neither exists (not Linux, an old kernel,
 * no memory controller): then no one can tell an OOM kill from another SIGKILL.
 */
export function readOomKills(environment: Pick<ProbeEnvironment, 'root'> = {}): OomKillCount | undefined {
  const root = environment.root ?? '/';
  const ownV2 = cgroupPath(root, (id, controllers) => id === '0' && controllers === '');
  const ownV1 = cgroupPath(root, (_id, controllers) => controllers.split(',').includes('memory'));
  // Own cgroup first; its mount root when the path from /proc/self/cgroup is not visible (a container without a cgroup namespace).
  const candidates = [
    ...(ownV2 !== undefined ? [path.join('sys/fs/cgroup', ownV2, 'memory.events')] : []),
    'sys/fs/cgroup/memory.events',
    ...(ownV1 !== undefined ? [path.join('sys/fs/cgroup/memory', ownV1, 'memory.oom_control')] : []),
    'sys/fs/cgroup/memory/memory.oom_control',
  ];
  for (const file of candidates) {
    const m = /^oom_kill (\d+)$/m.exec(readText(path.join(root, file)) ?? '');
    if (m) return { count: Number(m[1]), file: '/' + file };
  }
  return undefined;
}

function cgroupPath(root: string, match: (id: string, controllers: string) => boolean): string | undefined {
  const text = readText(path.join(root, 'proc/self/cgroup'));
  for (const line of text?.split('\n') ?? []) {
    const [id = '', controllers = '', ...rest] = line.split(':');
    if (match(id, controllers)) return rest.join(':') || '/';
  }
  return undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
