import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { naturalCompare, sortValues } from '../src/components/natural-sort.js';

describe('naturalCompare', () => {
  it('orders numbers inside text by value', () => {
    expect(naturalCompare('A2', 'A10')).toBeLessThan(0);
    expect(naturalCompare('2', '10')).toBeLessThan(0);
    expect(naturalCompare('s9_w1', 's10_w1')).toBeLessThan(0);
    expect(['A10', 'A2', 'B1', 'A1'].sort(naturalCompare)).toEqual(['A1', 'A2', 'A10', 'B1']);
  });

  it('is case-insensitive first, then breaks ties deterministically', () => {
    expect(naturalCompare('a2', 'B1')).toBeLessThan(0);
    expect(naturalCompare('DAPI', 'dapi')).not.toBe(0);
    expect(naturalCompare('A1', 'A01')).not.toBe(0);
    expect(naturalCompare('A1', 'A01')).toBe(-naturalCompare('A01', 'A1'));
    expect(naturalCompare('x', 'x')).toBe(0);
  });

  it('handles digit runs longer than a double can hold', () => {
    expect(naturalCompare('p99999999999999999998', 'p99999999999999999999')).toBeLessThan(0);
    expect(naturalCompare('p100000000000000000000', 'p99999999999999999999')).toBeGreaterThan(0);
  });

  const text = fc.string({ unit: fc.constantFrom('a', 'A', 'b', '0', '1', '2', '9', '_', '-', '.') , maxLength: 8 });

  it('is a total order: antisymmetric, 0 only for equal strings', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const ab = Math.sign(naturalCompare(a, b));
        const ba = Math.sign(naturalCompare(b, a));
        expect(ab + ba).toBe(0);
        expect(ab === 0).toBe(a === b);
      }),
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(text, text, text, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(naturalCompare) as [string, string, string];
        expect(naturalCompare(x, y)).toBeLessThanOrEqual(0);
        expect(naturalCompare(y, z)).toBeLessThanOrEqual(0);
        expect(naturalCompare(x, z)).toBeLessThanOrEqual(0);
      }),
    );
  });

  it('sorts to the same result whatever the input order (deterministic)', () => {
    const permuted = fc
      .array(text, { maxLength: 20 })
      .chain((values) => fc.tuple(fc.constant(values), fc.shuffledSubarray(values, { minLength: values.length, maxLength: values.length })));
    fc.assert(
      fc.property(permuted, ([values, shuffled]) => {
        expect([...shuffled].sort(naturalCompare)).toEqual([...values].sort(naturalCompare));
      }),
    );
  });

  it("orders well ids 'A2' < 'A10' for every row letter and column pair", () => {
    fc.assert(
      fc.property(fc.constantFrom(...'ABCDEFGHIJKLMNOP'), fc.integer({ min: 1, max: 47 }), fc.integer({ min: 1, max: 48 }), (row, c1, c2) => {
        fc.pre(c1 < c2);
        expect(naturalCompare(`${row}${c1}`, `${row}${c2}`)).toBeLessThan(0);
        expect(naturalCompare(`${row}${String(c1).padStart(2, '0')}`, `${row}${c2}`)).toBeLessThan(0);
      }),
    );
  });
});

describe('sortValues', () => {
  it('sorts numeric components numerically, including decimals and negatives', () => {
    expect(sortValues('z', ['10', '-1', '2', '0.5'])).toEqual(['-1', '0.5', '2', '10']);
    expect(sortValues('site', ['10', '9', '1'])).toEqual(['1', '9', '10']);
  });

  it('falls back to natural order when a numeric component has text values', () => {
    expect(sortValues('channel', ['GFP', 'DAPI', '2'])).toEqual(['2', 'DAPI', 'GFP']);
  });

  it('sorts wells naturally and keeps duplicates (it does not deduplicate)', () => {
    expect(sortValues('well', ['B1', 'A10', 'A2', 'A2'])).toEqual(['A2', 'A2', 'A10', 'B1']);
  });

  it('does not modify its input', () => {
    const input = ['3', '1', '2'];
    sortValues('site', input);
    expect(input).toEqual(['3', '1', '2']);
  });
});
