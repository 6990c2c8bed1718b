/**
 * What an element asks Slurm for when the user does not say: memory from the preflight estimate,
 * and a plain statement of the time limit the partition will apply.
 */
import type { PartitionInfo } from './commands.js';

const MIB = 1024 * 1024;
/**
 * The element's own process besides the task's worker: `plateflow slurm-element` measured 100–108
 * MiB RSS here (its worker child 79–81 MiB on a small plate, which the estimate's 64 MiB worker
 * overhead and the margin cover).
 */
const ELEMENT_PROCESS_BYTES = 160 * MIB;
/** A Python bridge with numpy, scipy and scikit-image imported: ≈ 90 MiB RSS before any array. */
const PYTHON_BRIDGE_BYTES = 160 * MIB;
/** Slurm's accounting samples RSS and kills above the request: room for the estimate being off. */
const MARGIN = 1.25;
/** Below this an ordinary Node.js process has no room left for its heap. */
const FLOOR_MIB = 512;
const ROUND_MIB = 64;

export interface ElementMemory {
  readonly mebibytes: number;
  /** How the number was reached, for the message the run prints. */
  readonly reason: string;
}

/** `--mem` for an element whose task needs `taskPeakBytes` at its peak (inputs, working copies, worker). */
export function defaultElementMemory(taskPeakBytes: number, python: boolean): ElementMemory {
  const need = taskPeakBytes + ELEMENT_PROCESS_BYTES + (python ? PYTHON_BRIDGE_BYTES : 0);
  const mebibytes = Math.max(FLOOR_MIB, Math.ceil((need * MARGIN) / MIB / ROUND_MIB) * ROUND_MIB);
  const parts = [`task peak ${mib(taskPeakBytes)} from the preflight estimate`, `${mib(ELEMENT_PROCESS_BYTES)} for the element's process`];
  if (python) parts.push(`${mib(PYTHON_BRIDGE_BYTES)} for its Python process`);
  const floor = mebibytes === FLOOR_MIB && need * MARGIN < FLOOR_MIB * MIB ? `, at least ${FLOOR_MIB} MiB` : '';
  return { mebibytes, reason: `${parts.join(' + ')}, × ${MARGIN}${floor}; give --slurm-mem to choose` };
}

/** Says which time limit elements get when `--slurm-time` is not given. */
export function describeDefaultTime(partitions: readonly PartitionInfo[], requested: string | null): string {
  const partition = partitions.find((p) => (requested === null ? p.isDefault : p.name === requested));
  if (!partition) return '--slurm-time not given: elements get the partition\'s default time limit';
  const limit = partition.defaultTime !== 'NONE' ? `its DefaultTime ${partition.defaultTime}` : `no DefaultTime, so its MaxTime ${partition.maxTime}`;
  return `--slurm-time not given: elements get partition ${partition.name}'s time limit (${limit}); give --slurm-time to bound a hung task`;
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / MIB)} MiB`;
}
