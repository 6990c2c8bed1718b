// Chunk-parallel reductions and maps over shared arrays: stats and histograms equal the single-pass
// result (exactly for counts, min, max, integer sums; float sums equal the chunk-order combination,
// whatever the number of threads), and the affine map writes in place without copies.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InlinePool,
  SharedArray,
  chunkRanges,
  combineStats,
  createChunkPool,
  mapAffine,
  rangeStats,
  reduceArray,
  type ArrayDType,
} from '../dist/arrays/index.js';
import { isPlateflowError } from '../dist/errors.js';

let pool: ReturnType<typeof createChunkPool>;
beforeAll(() => {
  pool = createChunkPool({ threads: 2 });
});
afterAll(async () => {
  await pool.close();
});

function filled<D extends ArrayDType>(dtype: D, n: number, f: (i: number) => number): SharedArray<D> {
  const a = SharedArray.create(dtype, [n]);
  for (let i = 0; i < n; i++) a.data[i] = f(i);
  return a;
}

describe('reduceArray', () => {
  it.each<[ArrayDType, (i: number) => number]>([
    ['uint8', (i) => (i * 7) % 256],
    ['int8', (i) => ((i * 13) % 256) - 128],
    ['int16', (i) => ((i * 31) % 60_000) - 30_000],
    ['uint32', (i) => (i * 2_654_435_761) % 4_000_000_000],
    ['int32', (i) => ((i * 97) % 2_000_001) - 1_000_000],
  ])('%s: count, min, max and the integer sum equal one pass over the whole array', async (dtype, f) => {
    const a = filled(dtype, 100_003, f);
    const got = await reduceArray(a, { pool, chunkElements: 4_099 });
    const whole = rangeStats(a.data, 0, a.size);
    expect(got).toEqual(whole);
  });

  it('float64 with NaN: NaN is counted apart; the sum is the chunk-order combination, the same on 1 thread or 2', async () => {
    const a = filled('float64', 50_000, (i) => (i % 1_000 === 0 ? Number.NaN : Math.sin(i) * 1e3));
    const chunkElements = 3_000;
    const two = await reduceArray(a, { pool, chunkElements });
    const inline = await reduceArray(a, { pool: new InlinePool(), chunkElements });
    const expected = combineStats(chunkRanges(a.size, chunkElements).map((r) => rangeStats(a.data, r.start, r.end)));
    expect(two).toEqual(expected);
    expect(inline).toEqual(expected);
    expect(two.nanCount).toBe(50);
    expect(two.count).toBe(49_950);
  });

  it('uniform and integer histograms equal the single-pass histogram; out-of-range values are not counted', async () => {
    const f = filled('float32', 80_000, (i) => Math.cos(i / 10) * 1.2); // part of it outside [-1, 1]
    const spec = { kind: 'uniform', bins: 50, lo: -1, hi: 1 } as const;
    const got = await reduceArray(f, { pool, chunkElements: 777, histogram: spec });
    expect(Array.from(got.histogram!)).toEqual(Array.from(rangeStats(f.data, 0, f.size, spec).histogram!));
    expect(got.histogram!.reduce((s, c) => s + c, 0)).toBeLessThan(80_000);

    const s = filled('int16', 60_000, (i) => ((i * 17) % 501) - 250);
    const ispec = { kind: 'integer', lo: -200, hi: 200 } as const;
    const ih = (await reduceArray(s, { pool, chunkElements: 1_000, histogram: ispec })).histogram!;
    const bincount = new Float64Array(401);
    for (const v of s.data) if (v >= -200 && v <= 200) bincount[v + 200]++;
    expect(Array.from(ih)).toEqual(Array.from(bincount));
  });

  it('a big array: a 16 Mi-element uint8 histogram in 16 chunks', async () => {
    const n = 1 << 24;
    const a = SharedArray.create('uint8', [n]);
    for (let i = 0; i < n; i++) a.data[i] = i & 255;
    const got = await reduceArray(a, { pool, chunkElements: 1 << 20, histogram: { kind: 'integer', lo: 0, hi: 255 } });
    expect(got.histogram!.every((c) => c === n / 256)).toBe(true);
    expect(got.sum).toBe((n / 256) * ((255 * 256) / 2));
  });

  it('rejects a histogram that cannot be computed, before running', async () => {
    const a = filled('uint8', 10, (i) => i);
    for (const histogram of [
      { kind: 'uniform', bins: 0, lo: 0, hi: 1 },
      { kind: 'uniform', bins: 4, lo: 1, hi: 1 },
      { kind: 'integer', lo: 5, hi: 2 },
      { kind: 'integer', lo: 0, hi: 2 ** 30 },
    ] as const) {
      await expect(reduceArray(a, { pool, histogram })).rejects.toSatisfy((e: unknown) => isPlateflowError(e, 'E_CHUNK_INVALID'));
    }
    // One bin per integer value makes no sense for float data (fractional values would vanish).
    const f = filled('float32', 10, (i) => i / 3);
    await expect(reduceArray(f, { pool, histogram: { kind: 'integer', lo: 0, hi: 3 } })).rejects.toThrow(/integer data/);
  });

  it('equals the whole-array stats for any integer data and chunk size (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 0, maxLength: 400 }), fc.integer({ min: 1, max: 64 }), async (values, chunk) => {
        const a = SharedArray.from(Int32Array.from(values));
        const got = await reduceArray(a, { pool, chunkElements: chunk, histogram: { kind: 'integer', lo: -1000, hi: 1000 } });
        const whole = rangeStats(a.data, 0, a.size, { kind: 'integer', lo: -1000, hi: 1000 });
        expect(got).toEqual(whole);
      }),
      { numRuns: 30 },
    );
  });
});

describe('mapAffine', () => {
  it('maps in place: the caller sees the workers\' writes in its own buffer', async () => {
    const a = filled('float32', 10_000, (i) => i);
    const before = a.data;
    await mapAffine(a, a, { pool, scale: 2, offset: -1, chunkElements: 999 });
    expect(a.data).toBe(before);
    expect([a.data[0], a.data[1], a.data[9_999]]).toEqual([-1, 1, 19_997]);
  });

  it('maps into another array with its dtype\'s conversion', async () => {
    const a = filled('uint16', 1_000, (i) => i);
    const out = SharedArray.create('uint8', [1_000]);
    await mapAffine(a, out, { pool, scale: 0.5, offset: 0, chunkElements: 100 });
    expect([out.data[3], out.data[600]]).toEqual([1, 44]); // 1.5 → 1 and 300 → 300 mod 256
    await expect(mapAffine(a, SharedArray.create('uint8', [10]), { pool, scale: 1, offset: 0 })).rejects.toSatisfy((e: unknown) =>
      isPlateflowError(e, 'E_CHUNK_INVALID'),
    );
  });
});
