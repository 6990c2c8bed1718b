import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStack, type DType, type ImageStack } from '../src/image.js';
import { call } from './golden/pipeline.js';

function stackOf<D extends DType>(dtype: D, planes: number[][], h: number, w: number): ImageStack<D> {
  const s = createStack(dtype, planes.length, h, w);
  planes.forEach((p, i) => (s.data as unknown as { set(a: number[], o: number): void }).set(p, i * h * w));
  return s;
}

describe('projections', () => {
  const s = stackOf('uint16', [[1, 9, 3, 4], [5, 2, 7, 4], [0, 0, 8, 65535]], 2, 2);

  it('max_projection keeps the dtype and takes the per-pixel maximum', () => {
    const out = call('max_projection', s).stack;
    expect(out.dtype).toBe('uint16');
    expect(out.shape).toEqual([1, 2, 2]);
    expect(Array.from(out.data)).toEqual([5, 9, 8, 65535]);
  });

  it('mean_projection gives float32', () => {
    const out = call('mean_projection', s).stack;
    expect(out.dtype).toBe('float32');
    expect(Array.from(out.data)).toEqual([2, 11 / 3, 6, 65543 / 3].map(Math.fround));
  });

  it('sum_projection gives uint32 for uint8/uint16 and float32 otherwise', () => {
    const out = call('sum_projection', s).stack;
    expect(out.dtype).toBe('uint32');
    expect(Array.from(out.data)).toEqual([6, 11, 18, 65543]);
    const f = call('sum_projection', stackOf('float32', [[0.5, -1], [0.25, 2]], 1, 2)).stack;
    expect(f.dtype).toBe('float32');
    expect(Array.from(f.data)).toEqual([0.75, 1]);
  });

  it('max over float32 and int32 with negatives', () => {
    expect(Array.from(call('max_projection', stackOf('int32', [[-5, -1], [-3, -7]], 1, 2)).stack.data)).toEqual([-3, -1]);
    expect(Array.from(call('max_projection', stackOf('float32', [[-5.5, -1], [-3, -7]], 1, 2)).stack.data)).toEqual([-3, -1]);
  });

  it('rejects a stack with no planes', () => {
    expect(() => call('max_projection', createStack('uint8', 0, 2, 2))).toThrow(/no planes/);
  });

  it('projection of one plane is the identity (property)', () => {
    const dtypes = ['uint8', 'uint16', 'float32'] as const;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom(...dtypes), fc.integer(), (h, w, dtype, seed) => {
        const s1 = createStack(dtype, 1, h, w);
        let x = seed >>> 0;
        for (let i = 0; i < s1.data.length; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          s1.data[i] = dtype === 'float32' ? Math.fround((x % 1000) / 7 - 50) : x % (dtype === 'uint8' ? 256 : 65536);
        }
        for (const name of ['max_projection', 'mean_projection', 'sum_projection']) {
          const out = call(name, s1).stack;
          expect(out.shape).toEqual([1, h, w]);
          expect(Array.from(out.data)).toEqual(Array.from(s1.data));
        }
        expect(call('max_projection', s1).stack.dtype).toBe(dtype);
      }),
    );
  });

  it('max projection is order-independent and dominates every plane (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 5 }), (planes) => {
        const a = call('max_projection', stackOf('uint16', planes, 2, 3)).stack.data;
        const b = call('max_projection', stackOf('uint16', [...planes].reverse(), 2, 3)).stack.data;
        expect(Array.from(a)).toEqual(Array.from(b));
        for (const p of planes) p.forEach((v, i) => expect(a[i]!).toBeGreaterThanOrEqual(v));
      }),
    );
  });
});
