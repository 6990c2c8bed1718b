import { describe, expect, it } from 'vitest';
import { applyFilter } from '../src/components/filters.js';
import { inferGrid, normalizeWellId, parseWell, plateGridForSize, rowIndex, rowLetters, wellId } from '../src/components/wells.js';
import { ConfigError } from '../src/errors.js';

/** Every well of a 96-well plate, A01…H12, in row-major order. */
const PLATE_96 = Array.from({ length: 96 }, (_, i) => wellId(Math.floor(i / 12), (i % 12) + 1));

describe('applyFilter', () => {
  it('keeps a single value, tolerant of A1 vs A01', () => {
    expect(applyFilter('well', PLATE_96, 'B03')).toEqual(['B03']);
    expect(applyFilter('well', PLATE_96, 'b3')).toEqual(['B03']);
    expect(applyFilter('well', ['A1', 'A2'], 'A01')).toEqual(['A1']);
  });

  it('keeps a comma list, in the order of the values', () => {
    expect(applyFilter('well', PLATE_96, 'C01, A03,A01')).toEqual(['A01', 'A03', 'C01']);
  });

  it("treats 'A01:B12' as the plate rectangle rows A–B × columns 1–12", () => {
    const kept = applyFilter('well', PLATE_96, 'A01:B12');
    expect(kept).toHaveLength(24);
    expect(kept[0]).toBe('A01');
    expect(kept.at(-1)).toBe('B12');
  });

  it('treats a well range as a rectangle, not reading order', () => {
    expect(applyFilter('well', PLATE_96, 'B02:C03')).toEqual(['B02', 'B03', 'C02', 'C03']);
    expect(applyFilter('well', PLATE_96, 'C03:B02')).toEqual(['B02', 'B03', 'C02', 'C03']);
    expect(applyFilter('well', PLATE_96, 'A1:H1')).toEqual(['A01', 'B01', 'C01', 'D01', 'E01', 'F01', 'G01', 'H01']);
  });

  it('mixes ranges and values in one comma list', () => {
    expect(applyFilter('well', PLATE_96, 'A01:A03,H12')).toEqual(['A01', 'A02', 'A03', 'H12']);
  });

  it('uses a numeric interval for numbers', () => {
    const sites = ['1', '2', '3', '10', '11'];
    expect(applyFilter('site', sites, '2:10')).toEqual(['2', '3', '10']);
    expect(applyFilter('site', sites, '01')).toEqual(['1']);
    expect(applyFilter('z', ['-1', '0.5', '2'], '-1:1')).toEqual(['-1', '0.5']);
  });

  it('uses a natural-order interval for anything else', () => {
    expect(applyFilter('channel', ['ch1', 'ch2', 'ch10', 'dapi'], 'ch2:ch10')).toEqual(['ch2', 'ch10']);
  });

  it('accepts a list of values and a predicate', () => {
    expect(applyFilter('well', PLATE_96, ['H12', 'A1'])).toEqual(['A01', 'H12']);
    expect(applyFilter('site', ['1', '2', '3'], (v) => v !== '2')).toEqual(['1', '3']);
  });

  it('rejects values the plate does not have, listing the values it has, instead of silently dropping them', () => {
    const wells = ['A01', 'A02', 'B01'];
    expect(() => applyFilter('well', wells, 'Z99')).toThrowError("well filter \"Z99\": 'Z99' matches no well of this plate; its well values are A01, A02, B01");
    expect(() => applyFilter('well', wells, 'A01,Z99,Q3')).toThrowError(/'Z99', 'Q3' match no well of this plate/);
    expect(() => applyFilter('well', wells, ['A01', 'Z99'])).toThrowError(/'Z99' matches no well/);
    // A range must keep something too; one that does is fine even if it covers absent wells.
    expect(() => applyFilter('well', wells, 'C01:D12')).toThrowError(/'C01:D12' matches no well/);
    expect(applyFilter('well', wells, 'A01:H12')).toEqual(wells);
    expect(() => applyFilter('well', wells, [])).toThrowError(/empty list/);
    // A predicate names no values: keeping nothing is its answer, not a mistake.
    expect(applyFilter('well', wells, () => false)).toEqual([]);
    try {
      applyFilter('well', wells, 'Z99');
    } catch (err) {
      expect(err).toMatchObject({ code: 'E_CONFIG_INVALID', context: { component: 'well', unmatched: ['Z99'] } });
    }
  });

  it('rejects malformed filter text with a ConfigError naming the filter', () => {
    const cases: [string, string][] = [
      ['A01:', "bad well filter 'A01:': range 'A01:' is missing its last value; write a range as FIRST:LAST, e.g. 'A01:B12'"],
      [':B12', "bad well filter ':B12': range ':B12' is missing its first value; write a range as FIRST:LAST, e.g. 'A01:B12'"],
      ['A01:B02:C03', "bad well filter 'A01:B02:C03': range 'A01:B02:C03' has more than one ':'; write a range as FIRST:LAST, e.g. 'A01:B12'"],
      ['A01,,B02', "bad well filter 'A01,,B02': empty item in the comma list"],
      ['', "bad well filter '': the filter is empty"],
      ['A01:12', "bad well filter 'A01:12': range 'A01:12' mixes a well id and a number; use two well ids (A01:B12) or two numbers (1:4)"],
    ];
    for (const [filter, message] of cases) {
      let caught: unknown;
      try {
        applyFilter('well', PLATE_96, filter);
      } catch (err) {
        caught = err;
      }
      expect(caught, filter).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toBe(message);
      expect((caught as ConfigError).context).toMatchObject({ component: 'well', filter });
    }
  });

  it('rejects filters of the wrong type', () => {
    expect(() => applyFilter('well', PLATE_96, 3 as unknown as string)).toThrow(ConfigError);
    expect(() => applyFilter('well', PLATE_96, [3] as unknown as string[])).toThrow(/every element must be a string/);
  });
});

describe('wells', () => {
  it('parses A01, A1, AA12 and lower case', () => {
    expect(parseWell('A01')).toEqual({ row: 0, column: 1 });
    expect(parseWell('A1')).toEqual({ row: 0, column: 1 });
    expect(parseWell('h12')).toEqual({ row: 7, column: 12 });
    expect(parseWell('AA12')).toEqual({ row: 26, column: 12 });
    expect(parseWell('AF48')).toEqual({ row: 31, column: 48 });
    for (const bad of ['A00', '12', 'A', 'ABC1', 'A1234', 'A-1', '']) expect(parseWell(bad), bad).toBeUndefined();
  });

  it('round-trips row letters', () => {
    for (let i = 0; i < 60; i++) expect(rowIndex(rowLetters(i))).toBe(i);
    expect(rowLetters(25)).toBe('Z');
    expect(rowLetters(26)).toBe('AA');
  });

  it('builds and normalizes well ids', () => {
    expect(wellId(1, 3)).toBe('B03');
    expect(wellId(1, 3, 3)).toBe('B003');
    expect(normalizeWellId('b3')).toBe('B03');
    expect(normalizeWellId('ctrl')).toBeUndefined();
  });

  it('infers standard plate grids', () => {
    expect(plateGridForSize(96)).toEqual({ rows: 8, columns: 12 });
    expect(plateGridForSize(384)).toEqual({ rows: 16, columns: 24 });
    expect(plateGridForSize(1536)).toEqual({ rows: 32, columns: 48 });
    expect(inferGrid(PLATE_96)).toEqual({ rows: 8, columns: 12 });
    expect(inferGrid(['A01', 'H12'])).toEqual({ rows: 8, columns: 12 });
    expect(inferGrid(['O01', 'O24'])).toEqual({ rows: 16, columns: 24 });
    expect(inferGrid(['AF48'])).toEqual({ rows: 32, columns: 48 });
    expect(inferGrid(['A01', 'B02'])).toEqual({ rows: 8, columns: 12 });
    expect(inferGrid(['I01'])).toEqual({ rows: 16, columns: 24 });
    expect(inferGrid(['A13'])).toEqual({ rows: 16, columns: 24 });
    expect(inferGrid(['A60'])).toEqual({ rows: 1, columns: 60 });
    expect(inferGrid(['AH01'])).toEqual({ rows: 34, columns: 1 });
    expect(inferGrid(['ctrl1'])).toBeUndefined();
  });
});
