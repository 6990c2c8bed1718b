import { describe, expect, it } from 'vitest';
import type { TaskPlan } from '../src/compiler/plan.js';
import { fakePlan } from './executor-fake-plan.js';
import { Heap, TaskQueue } from '../src/execution/scheduler.js';

const item = (plan: TaskPlan) => ({ plan, attempt: 1 });

describe('Heap', () => {
  it('pops in order of the comparator for random input', () => {
    const heap = new Heap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1009);
    for (const v of values) heap.push(v);
    const out: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) out.push(v);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });
});

describe('TaskQueue', () => {
  it('gives the largest task first, ties in submission order', () => {
    const q = new TaskQueue<ReturnType<typeof item>>();
    for (const [id, w] of [['a', 2], ['b', 5], ['c', 2], ['d', 5], ['e', 1]] as const) q.push(item(fakePlan(id, w)));
    expect(q.drain().map((i) => i.plan.taskId)).toEqual(['b', 'd', 'a', 'c', 'e']);
  });

  it('gives every task of a lower rank (an earlier run) before any of a higher one, then largest first', () => {
    const q = new TaskQueue<ReturnType<typeof item>>();
    for (const [id, w, rank] of [['late-big', 9, 1], ['a', 1, 0], ['b', 3, 0], ['late', 2, 1]] as const) q.push(item(fakePlan(id, w)), rank);
    expect(q.drain().map((i) => i.plan.taskId)).toEqual(['b', 'a', 'late-big', 'late']);
  });

  it('drain(match) takes out only the matching tasks; the rest keep their order', () => {
    const q = new TaskQueue<ReturnType<typeof item>>();
    for (const [id, w] of [['x1', 1], ['y1', 4], ['x2', 3], ['y2', 2]] as const) q.push(item(fakePlan(id, w)));
    expect(q.drain((i) => i.plan.taskId.startsWith('x')).map((i) => i.plan.taskId)).toEqual(['x2', 'x1']);
    expect(q.size).toBe(2);
    q.push(item(fakePlan('y3', 2)));
    expect(q.drain().map((i) => i.plan.taskId)).toEqual(['y1', 'y2', 'y3']);
  });

  it("keeps submission order with 'given'", () => {
    const q = new TaskQueue<ReturnType<typeof item>>('given');
    for (const [id, w] of [['a', 2], ['b', 5], ['c', 1]] as const) q.push(item(fakePlan(id, w)));
    expect(q.drain().map((i) => i.plan.taskId)).toEqual(['a', 'b', 'c']);
  });

  it('skips tasks whose GPU has no free slot without blocking the others', () => {
    const q = new TaskQueue<ReturnType<typeof item>>();
    q.push(item(fakePlan('gpu0-big', 9, 0)));
    q.push(item(fakePlan('gpu1', 5, 1)));
    q.push(item(fakePlan('cpu', 1, null)));
    expect(q.pop((gpu) => gpu !== 0)?.plan.taskId).toBe('gpu1');
    expect(q.pop((gpu) => gpu !== 0)?.plan.taskId).toBe('cpu');
    expect(q.pop((gpu) => gpu !== 0)).toBeUndefined();
    expect(q.size).toBe(1);
    expect(q.pop()?.plan.taskId).toBe('gpu0-big');
  });

  it('handles 100,000 tasks in well under a second (no O(n²) shift)', () => {
    const q = new TaskQueue<ReturnType<typeof item>>();
    // Only what the queue reads; full plans would make this a test of object allocation.
    const plans = Array.from({ length: 100_000 }, (_, i) => ({ taskId: `t${i}`, resources: { weight: (i % 13) + 1, gpuId: null } }) as unknown as TaskPlan);
    const t0 = performance.now();
    for (const p of plans) q.push(item(p));
    let n = 0;
    let last = Infinity;
    let ordered = true;
    for (let next = q.pop(); next; next = q.pop()) {
      ordered &&= next.plan.resources.weight <= last;
      last = next.plan.resources.weight;
      n++;
    }
    expect(ordered).toBe(true);
    expect(n).toBe(100_000);
    expect(performance.now() - t0).toBeLessThan(1500);
  });
});
