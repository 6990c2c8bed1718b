import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStack, type ImageStack } from '../src/image.js';
import { countLabels } from '../src/processing/count-objects.js';
import { call } from './golden/pipeline.js';

function mask(rows: string[]): ImageStack<'uint8'> {
  const h = rows.length;
  const w = rows[0]!.length;
  const s = createStack('uint8', 1, h, w);
  rows.forEach((r, y) => [...r].forEach((c, x) => (s.data[y * w + x] = c === '#' ? 1 : 0)));
  return s;
}

/** Reference flood fill (BFS), numbering components in raster order of their first pixel. */
function floodLabels(m: Uint8Array, h: number, w: number, conn: 4 | 8): Uint32Array {
  const out = new Uint32Array(h * w);
  const steps = conn === 4 ? [[0, 1], [1, 0], [0, -1], [-1, 0]] : [[0, 1], [1, 0], [0, -1], [-1, 0], [1, 1], [1, -1], [-1, 1], [-1, -1]];
  let n = 0;
  for (let i = 0; i < h * w; i++) {
    if (!m[i] || out[i]) continue;
    out[i] = ++n;
    const queue = [i];
    while (queue.length) {
      const p = queue.pop()!;
      const y = Math.floor(p / w);
      const x = p % w;
      for (const [dy, dx] of steps) {
        const yy = y + dy!;
        const xx = x + dx!;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        if (m[q] && !out[q]) {
          out[q] = n;
          queue.push(q);
        }
      }
    }
  }
  return out;
}

describe('label', () => {
  const twoBlobs = mask(['##...', '##...', '..##.', '..##.', '.....']);

  it('two diagonal-touching blobs: 4-connected → 2 objects, 8-connected → 1', () => {
    const four = call('label', twoBlobs, { connectivity: 4 });
    expect(four.measurements).toEqual([{ label_count: 2 }]);
    expect(Array.from(four.stack.data)).toEqual([1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0]);
    const eight = call('label', twoBlobs, { connectivity: 8 });
    expect(eight.measurements).toEqual([{ label_count: 1 }]);
    expect(call('label', twoBlobs).measurements).toEqual([{ label_count: 2 }]); // default 4
  });

  it('numbers labels in raster order of first appearance, also for U shapes merged late', () => {
    const u = mask(['#.#.#', '#.#.#', '###.#', '....#', '##...']);
    const out = call('label', u);
    expect(out.stack.dtype).toBe('uint32');
    expect(Array.from(out.stack.data)).toEqual([1, 0, 1, 0, 2, 1, 0, 1, 0, 2, 1, 1, 1, 0, 2, 0, 0, 0, 0, 2, 3, 3, 0, 0, 0]);
  });

  it('a staircase of diagonals: 8-connected joins an anti-diagonal via NE', () => {
    const m = mask(['....#', '...#.', '..#..', '.#...', '#....']);
    expect(call('label', m, { connectivity: 8 }).measurements).toEqual([{ label_count: 1 }]);
    expect(call('label', m, { connectivity: 4 }).measurements).toEqual([{ label_count: 5 }]);
  });

  it('matches a flood-fill reference on random masks, both connectivities (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 14 }),
        fc.integer({ min: 1, max: 14 }),
        fc.double({ min: 0.1, max: 0.9, noNaN: true }),
        fc.integer(),
        (h, w, p, seed) => {
          const s = createStack('uint16', 1, h, w);
          let x = seed >>> 0;
          for (let i = 0; i < h * w; i++) {
            x = (Math.imul(x ^ (x >>> 15), 2246822519) + 374761393) >>> 0;
            s.data[i] = x / 2 ** 32 < p ? 1 + (x % 3) : 0;
          }
          const m = Uint8Array.from(s.data, (v) => (v ? 1 : 0));
          for (const conn of [4, 8] as const) {
            const got = call('label', s, { connectivity: conn });
            const ref = floodLabels(m, h, w, conn);
            expect(Array.from(got.stack.data)).toEqual(Array.from(ref));
            const n = got.measurements![0]!.label_count!;
            expect(n).toBe(Math.max(0, ...ref));
            // invariants: labels are exactly 1..n, background stays 0, 8-conn never has more objects
            expect(new Set(Array.from(got.stack.data).filter((v) => v > 0)).size).toBe(n);
            // count_objects with min_size 0 = label count, from the mask and from the labels
            expect(call('count_objects', s, { connectivity: conn }).measurements![0]!.object_count).toBe(n);
            expect(call('count_objects', got.stack).measurements![0]!.object_count).toBe(n);
          }
          expect(call('label', s, { connectivity: 8 }).measurements![0]!.label_count!).toBeLessThanOrEqual(
            call('label', s, { connectivity: 4 }).measurements![0]!.label_count!,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('labels every plane separately', () => {
    const s = createStack('uint8', 2, 2, 2);
    s.data.set([1, 0, 0, 1, 1, 1, 1, 1]);
    const out = call('label', s);
    expect(out.measurements).toEqual([{ label_count: 2 }, { label_count: 1 }]);
    expect(Array.from(out.stack.data)).toEqual([1, 0, 0, 2, 1, 1, 1, 1]);
  });
});

describe('count_objects', () => {
  it('counts objects of at least min_size pixels and passes its input through', () => {
    const m = mask(['###..', '#....', '....#', '.##.#', '.##..']);
    const out = call('count_objects', m, { min_size: 3 });
    expect(out.stack).toBe(m);
    expect(out.measurements).toEqual([{ object_count: 2 }]);
    expect(call('count_objects', m, { min_size: 5 }).measurements).toEqual([{ object_count: 0 }]);
    expect(call('count_objects', m).measurements).toEqual([{ object_count: 3 }]);
  });

  it('on a label image counts present labels (gaps are not objects), ignoring values ≤ 0', () => {
    const labels = new Int32Array([0, 5, 5, -1, 9, 9, 9, 0]);
    expect(countLabels(labels, 0)).toBe(2);
    expect(countLabels(labels, 3)).toBe(1);
    expect(countLabels(new Uint32Array([4_000_000_000, 4_000_000_000, 7]), 2)).toBe(1); // sparse ids
  });

  it('refuses float images with a hint', () => {
    expect(() => call('count_objects', createStack('float32', 1, 2, 2))).toThrow(/label image.*mask.*float32/);
  });
});
