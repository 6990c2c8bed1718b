// Chunk plans: the 1-D facts from issue 8, argument checks (MPAIO loops forever on chunk 0), and
// properties: 1-D ranges cover [start, size) exactly once, in order; tile cores partition an N-D array
// and every tile's outer box is its core grown by the halo, clipped — so a filter sees every row it needs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { axisChunks, boxSize, chunkRanges, contiguousRange, tilePlan, type Range } from '../src/arrays/index.js';
import { isPlateflowError } from '../src/errors.js';

const pairs = (rs: readonly Range[]) => rs.map((r) => [r.start, r.end]);

describe('chunkRanges', () => {
  it('size 10, chunk 3 → [0,3) [3,6) [6,9) [9,10)', () => {
    expect(pairs(chunkRanges(10, 3))).toEqual([[0, 3], [3, 6], [6, 9], [9, 10]]);
  });

  it('size 12, chunk 4, start 2 → [2,6) [6,10) [10,12)', () => {
    expect(pairs(chunkRanges(12, 4, 2))).toEqual([[2, 6], [6, 10], [10, 12]]);
  });

  it('an empty array, or a start at the end, is an empty plan', () => {
    expect(chunkRanges(0, 5)).toEqual([]);
    expect(chunkRanges(7, 2, 7)).toEqual([]);
  });

  it.each([
    ['chunk 0', 10, 0, 0],
    ['negative chunk', 10, -3, 0],
    ['fractional chunk', 10, 2.5, 0],
    ['NaN chunk', 10, Number.NaN, 0],
    ['start before the array', 10, 3, -1],
    ['start after the array', 10, 3, 11],
    ['fractional start', 10, 3, 1.5],
    ['negative size', -1, 3, 0],
    ['fractional size', 9.5, 3, 0],
  ])('rejects %s with E_CHUNK_INVALID', (_, size, chunk, start) => {
    let caught: unknown;
    try {
      chunkRanges(size, chunk, start);
    } catch (err) {
      caught = err;
    }
    expect(isPlateflowError(caught, 'E_CHUNK_INVALID')).toBe(true);
  });

  it('covers [start, size) exactly once, in order, with full chunks but the last (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (size, chunk, f) => {
        const start = Math.floor(f * size);
        const rs = chunkRanges(size, chunk, start);
        let at = start;
        for (const [i, r] of rs.entries()) {
          expect(r.start).toBe(at);
          expect(r.end).toBeGreaterThan(r.start);
          if (i < rs.length - 1) expect(r.end - r.start).toBe(chunk);
          else expect(r.end - r.start).toBeLessThanOrEqual(chunk);
          at = r.end;
        }
        expect(at).toBe(size);
        expect(rs.length).toBe(Math.ceil((size - start) / chunk));
      }),
    );
  });
});

describe('tilePlan / axisChunks', () => {
  it('row bands of the drawn example: cores [0,4) [4,8) [8,10), outers [0,6) [2,10) [6,10)', () => {
    const tiles = axisChunks([10, 512], 0, 4, 2);
    expect(tiles.map((t) => pairs(t.core))).toEqual([[[0, 4], [0, 512]], [[4, 8], [0, 512]], [[8, 10], [0, 512]]]);
    expect(tiles.map((t) => pairs(t.outer)[0])).toEqual([[0, 6], [2, 10], [6, 10]]);
  });

  it('walks the tile grid in C order (last axis fastest)', () => {
    const tiles = tilePlan([4, 6], [2, 3]);
    expect(tiles.map((t) => [t.index, t.core[0]!.start, t.core[1]!.start])).toEqual([[0, 0, 0], [1, 0, 3], [2, 2, 0], [3, 2, 3]]);
  });

  it('rejects bad tile sizes, halos and axes', () => {
    expect(() => tilePlan([4, 4], [0, 2])).toThrow(/tileShape\[0\]/);
    expect(() => tilePlan([4, 4], [2, 2], -1)).toThrow(/halo\[0\]/);
    expect(() => tilePlan([4, 4], [2])).toThrow(/1 entries for a 2-D/);
    expect(() => axisChunks([4, 4], 2, 1)).toThrow(/axis/);
  });

  it('an axis of length 0 gives no tiles', () => {
    expect(tilePlan([0, 5], [2, 2], 1)).toEqual([]);
  });

  it('cores partition the array; outers are cores ± halo clipped (property, up to 3-D)', () => {
    const dims = fc.integer({ min: 1, max: 3 });
    fc.assert(
      fc.property(
        dims.chain((nd) =>
          fc.tuple(
            fc.array(fc.integer({ min: 1, max: 9 }), { minLength: nd, maxLength: nd }),
            fc.array(fc.integer({ min: 1, max: 12 }), { minLength: nd, maxLength: nd }),
            fc.array(fc.integer({ min: 0, max: 4 }), { minLength: nd, maxLength: nd }),
          ),
        ),
        ([shape, tile, halo]) => {
          const tiles = tilePlan(shape, tile, halo);
          const size = shape.reduce((a, b) => a * b, 1);
          const owner = new Int32Array(size).fill(-1);
          const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
          let covered = 0;
          for (const [i, t] of tiles.entries()) {
            expect(t.index).toBe(i);
            covered += boxSize(t.core);
            t.core.forEach((r, k) => {
              expect(t.outer[k]).toEqual({ start: Math.max(0, r.start - halo[k]!), end: Math.min(shape[k]!, r.end + halo[k]!) });
            });
            // Mark every element of the core; a second owner would be a race between workers.
            const walk = (k: number, offset: number): void => {
              if (k === shape.length) {
                expect(owner[offset]).toBe(-1);
                owner[offset] = i;
                return;
              }
              for (let x = t.core[k]!.start; x < t.core[k]!.end; x++) walk(k + 1, offset + x * strides[k]!);
            };
            walk(0, 0);
          }
          expect(covered).toBe(size);
          expect(owner.every((o) => o >= 0)).toBe(true);
        },
      ),
    );
  });

  it('with halo ≥ r, every row a band needs (core ± r, clipped) is inside its outer rows (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 20 }), (h, band, r) => {
        const needed = new Set<number>();
        const missing: number[] = [];
        for (const t of axisChunks([h, 3], 0, band, r)) {
          const core = t.core[0]!;
          const outer = t.outer[0]!;
          for (let y = core.start; y < core.end; y++) {
            for (let j = -r; j <= r; j++) {
              const row = y + j;
              if (row < 0 || row >= h) continue; // past the image edge: the kernel's own reflect applies
              if (row < outer.start || row >= outer.end) missing.push(row);
              needed.add(row);
            }
          }
        }
        expect(missing).toEqual([]);
        expect(needed.size).toBe(h); // and every row of the image is read by some band
      }),
    );
  });

  it('contiguousRange: plane and row bands are flat ranges; column tiles are not', () => {
    const shape = [3, 4, 5];
    expect(axisChunks(shape, 0, 2).map((t) => contiguousRange(shape, t.core))).toEqual([{ start: 0, end: 40 }, { start: 40, end: 60 }]);
    expect(contiguousRange(shape, tilePlan(shape, [1, 2, 5])[3]!.core)).toEqual({ start: 30, end: 40 }); // plane 1, rows 2..3
    expect(contiguousRange(shape, tilePlan(shape, [1, 1, 2])[1]!.core)).toEqual({ start: 2, end: 4 }); // part of one row
    expect(contiguousRange(shape, tilePlan(shape, [1, 2, 2])[0]!.core)).toBeUndefined(); // 2 rows × 2 cols
    expect(contiguousRange(shape, tilePlan(shape, [2, 4, 5])[0]!.core)).toEqual({ start: 0, end: 40 });
  });
});
