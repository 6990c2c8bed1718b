/**
 * The one queue every worker pulls from. Workers are not given fixed lanes of tasks: whichever is
 * free takes the next task, so one slow well does not hold back the wells queued behind it.
 *
 * Order: lowest `rank` first (the dispatcher ranks tasks by the `run()` call they belong to, so an
 * earlier run's tasks go before a later one's when runs share workers), then largest
 * `resources.weight` (input image count), ties in submission order. Starting the big tasks early
 * shortens the tail where one worker is still busy and the others are idle.
 *
 * Tasks bound to a GPU wait in their GPU's own heap, so a task whose GPU is full never blocks a
 * CPU task or a task for another GPU behind it:
 *
 *     lanes:  null (CPU) ─► heap [w=24, w=12, …]
 *             0          ─► heap [w=24, …]      pop(canStart) compares the heads of the lanes
 *             1          ─► heap [w=12, …]      whose GPU has a free slot and takes the best.
 *
 * Binary heaps give O(log n) push and pop; nothing here calls `Array.shift()` (O(n) per call, so
 * O(n²) over 10,000 wells).
 */
import type { TaskPlan } from '../compiler/plan.js';

export type QueueOrder = 'largest-first' | 'given';

interface Entry<T> {
  readonly item: T;
  readonly rank: number;
  readonly weight: number;
  readonly seq: number;
}

/** A binary min-heap over `before` (the element for which `before(a, b)` holds comes out first). */
export class Heap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(value: T): void {
    const items = this.#items;
    let i = items.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.#before(items[l]!, items[best]!)) best = l;
        if (r < items.length && this.#before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

export class TaskQueue<T extends { readonly plan: TaskPlan }> {
  readonly #lanes = new Map<number | null, Heap<Entry<T>>>();
  readonly #before: (a: Entry<T>, b: Entry<T>) => boolean;
  #seq = 0;
  #size = 0;

  constructor(order: QueueOrder = 'largest-first') {
    const within = order === 'given' ? (a: Entry<T>, b: Entry<T>) => a.seq < b.seq : (a: Entry<T>, b: Entry<T>) => a.weight > b.weight || (a.weight === b.weight && a.seq < b.seq);
    this.#before = (a, b) => a.rank < b.rank || (a.rank === b.rank && within(a, b));
  }

  get size(): number {
    return this.#size;
  }

  /** `rank`: tasks of a lower rank all come before those of a higher one. */
  push(item: T, rank = 0): void {
    this.#pushEntry({ item, rank, weight: item.plan.resources.weight, seq: this.#seq++ });
  }

  #pushEntry(entry: Entry<T>): void {
    const gpu = entry.item.plan.resources.gpuId;
    let lane = this.#lanes.get(gpu);
    if (!lane) this.#lanes.set(gpu, (lane = new Heap(this.#before)));
    lane.push(entry);
    this.#size++;
  }

  /** The next task whose GPU (null = CPU) `canStart` accepts, or undefined when none can start now. */
  pop(canStart: (gpu: number | null) => boolean = () => true): T | undefined {
    return this.#popEntry(canStart)?.item;
  }

  #popEntry(canStart: (gpu: number | null) => boolean = () => true): Entry<T> | undefined {
    let bestLane: Heap<Entry<T>> | undefined;
    let best: Entry<T> | undefined;
    for (const [gpu, lane] of this.#lanes) {
      const head = lane.peek();
      if (head === undefined || !canStart(gpu)) continue;
      if (best === undefined || this.#before(head, best)) {
        best = head;
        bestLane = lane;
      }
    }
    if (!bestLane) return undefined;
    this.#size--;
    return bestLane.pop()!;
  }

  /**
   * Removes and returns the queued items `match` accepts (all by default), in queue order; the
   * rest keep their places. O(n log n), for the rare cancel or fail-fast of one run among several.
   */
  drain(match: (item: T) => boolean = () => true): T[] {
    const out: T[] = [];
    const kept: Entry<T>[] = [];
    for (let next = this.#popEntry(); next !== undefined; next = this.#popEntry()) {
      if (match(next.item)) out.push(next.item);
      else kept.push(next);
    }
    for (const entry of kept) this.#pushEntry(entry);
    return out;
  }
}
