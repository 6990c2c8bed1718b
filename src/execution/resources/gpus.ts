/**
 * The GPU registry: which GPUs this run may use and how many tasks each can hold at once.
 *
 * GPUs are listed by `nvidia-smi`, then narrowed by `CUDA_VISIBLE_DEVICES` (nvidia-smi itself
 * ignores that variable). Indices are nvidia-smi's (PCI bus order); set
 * `CUDA_DEVICE_ORDER=PCI_BUS_ID` so CUDA libraries number devices the same way.
 */
import { execFile } from 'node:child_process';

export interface GpuInfo {
  /** nvidia-smi index: what the compiler assigns and what workers get in CUDA_VISIBLE_DEVICES. */
  readonly index: number;
  readonly memoryTotalMiB: number;
  readonly memoryUsedMiB: number;
}

export interface GpuProbe {
  readonly gpus: readonly GpuInfo[];
  /** What was run and what it found, or why there are no GPUs. */
  readonly detail: string;
}

export interface GpuProbeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** @default 'nvidia-smi' (looked up on the env's PATH) */
  readonly command?: string;
  /** nvidia-smi can hang on a wedged driver; we give up after this. @default 10_000 */
  readonly timeoutMs?: number;
}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,memory.total,memory.used', '--format=csv,noheader'] as const;

/** Lists usable GPUs. Never throws: no nvidia-smi, a failing one or unparsable output mean "no GPUs" with the reason in `detail`. */
export async function probeGpus(options: GpuProbeOptions = {}): Promise<GpuProbe> {
  const env = options.env ?? process.env;
  const command = options.command ?? 'nvidia-smi';
  const visible = parseVisibleDevices(env.CUDA_VISIBLE_DEVICES);
  if (visible.kind === 'none') return { gpus: [], detail: `CUDA_VISIBLE_DEVICES="${env.CUDA_VISIBLE_DEVICES}" hides every GPU` };
  let stdout: string;
  try {
    stdout = await new Promise<string>((resolve, reject) => {
      execFile(command, [...NVIDIA_SMI_ARGS], { env, timeout: options.timeoutMs ?? 10_000, encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(out)));
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { gpus: [], detail: code === 'ENOENT' ? `${command} not found on PATH: no NVIDIA GPUs` : `${command} failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const parsed = parseNvidiaSmi(stdout);
  if (parsed.bad.length > 0 && parsed.gpus.length === 0) return { gpus: [], detail: `could not parse ${command} output: ${JSON.stringify(parsed.bad[0])}` };
  let gpus = parsed.gpus;
  let note = '';
  if (visible.kind === 'list') {
    const byIndex = new Map(gpus.map((g) => [g.index, g]));
    gpus = visible.indices.map((i) => byIndex.get(i)).filter((g): g is GpuInfo => g !== undefined);
    note = `, CUDA_VISIBLE_DEVICES="${env.CUDA_VISIBLE_DEVICES}" keeps ${gpus.map((g) => g.index).join(',') || 'none'}`;
  } else if (visible.kind === 'unsupported') {
    note = `, CUDA_VISIBLE_DEVICES="${env.CUDA_VISIBLE_DEVICES}" names devices by UUID/MIG id, which is not mapped: all listed GPUs are used`;
  }
  return { gpus, detail: `${command} listed ${parsed.gpus.length} GPU(s)${note}` };
}

/** Parses `index, memory.total, memory.used` lines such as `0, 16384 MiB, 1021 MiB`. */
export function parseNvidiaSmi(stdout: string): { gpus: GpuInfo[]; bad: string[] } {
  const gpus: GpuInfo[] = [];
  const bad: string[] = [];
  for (const line of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [index, total, used] = line.split(',').map((f) => f.trim());
    const n = Number(index);
    const t = mib(total);
    const u = mib(used);
    if (Number.isInteger(n) && n >= 0 && t !== undefined && u !== undefined) gpus.push({ index: n, memoryTotalMiB: t, memoryUsedMiB: u });
    else bad.push(line);
  }
  return { gpus, bad };
}

function mib(field: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(MiB|GiB)?$/i.exec(field ?? '');
  if (!m) return undefined;
  return Number(m[1]) * (m[2]?.toLowerCase() === 'gib' ? 1024 : 1);
}

type Visible = { kind: 'all' } | { kind: 'none' } | { kind: 'list'; indices: number[] } | { kind: 'unsupported' };

/**
 * CUDA's own rule: the list is read up to the first invalid entry, so "" or "-1" hide every
 * device and "0,-1,1" means just 0.
 */
export function parseVisibleDevices(value: string | undefined): Visible {
  if (value === undefined) return { kind: 'all' };
  const entries = value.split(',').map((s) => s.trim());
  if (entries.length > 0 && entries[0] !== '' && !/^\d+$/.test(entries[0]!) && !/^-/.test(entries[0]!)) return { kind: 'unsupported' };
  const indices: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) break;
    indices.push(Number(e));
  }
  return indices.length === 0 ? { kind: 'none' } : { kind: 'list', indices };
}
