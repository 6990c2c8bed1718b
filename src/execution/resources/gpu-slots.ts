/**
 * Runtime GPU slots: a task acquires a slot on the GPU the compiler assigned it before it starts,
 * and releases it when it ends, so no GPU holds more concurrent tasks than its memory allows.
 * Single-threaded (the dispatcher's event loop owns it), so no locks.
 */
import type { GpuInfo } from './gpus.js';

/**
 * Slots per GPU: free memory ÷ memory each task needs, or one task per GPU when the need is not
 * given (the safe choice: two unknown kernels on one GPU can both run out of memory).
 */
export function gpuSlotCapacity(gpus: readonly GpuInfo[], memoryPerTaskMiB?: number): Map<number, number> {
  const capacity = new Map<number, number>();
  for (const g of gpus) {
    const free = Math.max(0, g.memoryTotalMiB - g.memoryUsedMiB);
    capacity.set(g.index, memoryPerTaskMiB && memoryPerTaskMiB > 0 ? Math.floor(free / memoryPerTaskMiB) : 1);
  }
  return capacity;
}

export class GpuSlots {
  readonly #capacity: ReadonlyMap<number, number>;
  readonly #defaultCapacity: number;
  readonly #used = new Map<number, number>();

  /** `defaultCapacity` applies to GPU ids the capacity map does not list (GPUs the caller did not probe). */
  constructor(capacity: ReadonlyMap<number, number> = new Map(), defaultCapacity = 1) {
    this.#capacity = capacity;
    this.#defaultCapacity = defaultCapacity;
  }

  capacity(gpu: number): number {
    return this.#capacity.get(gpu) ?? this.#defaultCapacity;
  }

  inUse(gpu: number): number {
    return this.#used.get(gpu) ?? 0;
  }

  /** True when a slot is free on `gpu` (null = a CPU task, always true). */
  hasFree(gpu: number | null): boolean {
    return gpu === null || this.inUse(gpu) < this.capacity(gpu);
  }

  tryAcquire(gpu: number | null): boolean {
    if (gpu === null) return true;
    if (!this.hasFree(gpu)) return false;
    this.#used.set(gpu, this.inUse(gpu) + 1);
    return true;
  }

  release(gpu: number | null): void {
    if (gpu === null) return;
    const n = this.inUse(gpu);
    if (n <= 1) this.#used.delete(gpu);
    else this.#used.set(gpu, n - 1);
  }

  /** Total slots over the given GPUs: an upper bound on useful workers when every task needs a GPU. */
  total(gpus: Iterable<number>): number {
    let sum = 0;
    for (const g of new Set(gpus)) sum += this.capacity(g);
    return sum;
  }
}
