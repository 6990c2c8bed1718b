/**
 * The compact (columnar) records of discovery and compile against a straightforward reference:
 * one object per record, sorted with a comparator, grouped by task id, keyed by hashing each
 * record's stable JSON — what discovery and compile did before records became columns.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import { stableStringify } from '../src/compiler/resolve-steps.js';
import { STANDARD_COMPONENTS } from '../src/components/names.js';
import { naturalCompare, sortValues } from '../src/components/natural-sort.js';
import { taskKey } from '../src/components/task-key.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { imageXpressHandler } from '../src/microscopes/imagexpress.js';
import { scanImageXpressName } from '../src/microscopes/imagexpress-scan.js';
import { createPatternHandler } from '../src/microscopes/pattern.js';
import { RecordColumns } from '../src/microscopes/record-columns.js';
import { RecordTable } from '../src/microscopes/record-table.js';
import type { FormatHandler } from '../src/microscopes/handler.js';
import type { ImageRecord, PlateIndex } from '../src/microscopes/types.js';

const TMP = await mkdtemp(path.join(os.tmpdir(), 'plateflow-compact-'));
afterAll(() => rm(TMP, { recursive: true, force: true }));
beforeEach(() => clearComponentCache());

// ---- the reference: records as objects -------------------------------------------------------

function referenceOrder(names: Iterable<string>): string[] {
  const set = new Set(names);
  const standard = STANDARD_COMPONENTS.filter((c) => set.has(c));
  return [...standard, ...[...set].filter((c) => !(STANDARD_COMPONENTS as readonly string[]).includes(c)).sort(naturalCompare)];
}

function referenceValues(images: readonly ImageRecord[]): Record<string, string[]> {
  const values = new Map<string, Set<string>>();
  for (const r of images) for (const [c, v] of Object.entries(r.components)) (values.get(c) ?? values.set(c, new Set()).get(c)!).add(v);
  const out: Record<string, string[]> = {};
  for (const c of referenceOrder(values.keys())) out[c] = sortValues(c, values.get(c)!);
  return out;
}

function referenceSort(images: readonly ImageRecord[]): ImageRecord[] {
  const values = referenceValues(images);
  const rank = new Map(Object.entries(values).map(([c, vs]) => [c, new Map(vs.map((v, i) => [v, i]))]));
  const rankOf = (r: ImageRecord, c: string): number => (r.components[c] === undefined ? -1 : rank.get(c)!.get(r.components[c]!)!);
  return [...images].sort((a, b) => {
    for (const c of Object.keys(values)) {
      const d = rankOf(a, c) - rankOf(b, c);
      if (d !== 0) return d;
    }
    return (a.page ?? -1) - (b.page ?? -1) || naturalCompare(a.path, b.path);
  });
}

function sameComponents(a: ImageRecord, b: ImageRecord): boolean {
  const ka = Object.keys(a.components);
  return (a.page ?? -1) === (b.page ?? -1) && ka.length === Object.keys(b.components).length && ka.every((k) => a.components[k] === b.components[k]);
}

/** Sorted records without duplicates, and the paths of the duplicates dropped (lenient discovery). */
function referenceIndex(images: readonly ImageRecord[]): { kept: ImageRecord[]; dropped: string[] } {
  const kept: ImageRecord[] = [];
  const dropped: string[] = [];
  for (const r of referenceSort(images)) {
    const prev = kept[kept.length - 1];
    if (prev && sameComponents(prev, r)) dropped.push(r.path);
    else kept.push(r);
  }
  return { kept, dropped };
}

function referenceTasks(root: string, images: readonly ImageRecord[], axis: readonly string[]): { id: string; inputs: ImageRecord[]; key: string }[] {
  const groups = new Map<string, { axis: Record<string, string>; inputs: ImageRecord[] }>();
  for (const r of images) {
    const values = Object.fromEntries(axis.map((c) => [c, r.components[c]!]));
    const id = taskKey(axis, values);
    (groups.get(id) ?? groups.set(id, { axis: values, inputs: [] }).get(id)!).inputs.push(r);
  }
  const ordered = [...groups].sort(([, a], [, b]) => {
    for (const c of axis) {
      const d = naturalCompare(a.axis[c]!, b.axis[c]!);
      if (d !== 0) return d;
    }
    return 0;
  });
  return ordered.map(([id, g]) => {
    const hash = createHash('sha256').update(root);
    for (const r of g.inputs) hash.update(`\n${r.path}#${r.page ?? ''}${r.sample !== undefined ? `@${r.sample}` : ''}${stableStringify(r.components)}`);
    return { id, inputs: g.inputs, key: hash.digest('hex').slice(0, 16) };
  });
}

const plain = (r: ImageRecord): ImageRecord => ({ ...r, components: { ...r.components } });

// ---- generators -------------------------------------------------------------------------------

/** Component values that sort differently numerically, naturally and by code unit. */
const value: fc.Arbitrary<string> = fc.constantFrom('1', '2', '10', '01', '1.5', '-1', 'a', 'A2', 'a10', 'B', 'x1y');
const record = fc.record(
  {
    path: fc.stringMatching(/^[a-z0-9]{1,3}(\/[A-Za-z0-9_]{1,4})?$/),
    components: fc.dictionary(fc.constantFrom('well', 'site', 'channel', 'z', 'timepoint', 'plane', 'field', 'extra'), value, { minKeys: 1 }),
    page: fc.integer({ min: 0, max: 3 }),
    sample: fc.constantFrom<number | 'luminance'>(0, 1, 'luminance'),
  },
  { requiredKeys: ['path', 'components'] },
);

/** ImageXpress-like names: the regular ones, and the corners the scanner must leave to the regex. */
const digits = fc.constantFrom('1', '01', '2', '10', '0', '007', '123', '1234', '1234567890');
const guid = fc.constantFrom('', '', '', '0A1B2C3D-1111-2222-3333-444455556666');
const ixName = fc
  .record({
    folder: fc.constantFrom('', '', '', 'TimePoint_2/', 'TimePoint_1/ZStep_3/'),
    prefix: fc.constantFrom('', '', 'Plate1_', 'A01_', 'x_B2_', 'AB_', 'p_q_'),
    row: fc.constantFrom('A', 'B', 'P', 'AA', 'a', 'ABC'),
    column: fc.constantFrom('1', '01', '001', '0', '12', '123', '1234'),
    tags: fc.array(fc.tuple(fc.constantFrom('s', 'w', 'z', 't', 'x'), digits), { maxLength: 5 }),
    guid,
    thumb: fc.constantFrom('', '', '', '', '_thumb'),
    ext: fc.constantFrom('.tif', '.tif', '.TIF', '.tiff', '.Tiff', '.tifx'),
  })
  .map(({ folder, prefix, row, column, tags, guid: g, thumb, ext }) => {
    const [first, ...rest] = tags.map(([t, d]) => `_${t}${d}`);
    return `${folder}${prefix}${row}${column}${first ?? ''}${g}${rest.join('')}${thumb}${ext}`;
  });

// ---- properties -------------------------------------------------------------------------------

describe('compact records', () => {
  it('sort, drop duplicates and filter exactly as records sorted with a comparator', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), fc.constantFrom('well', 'site', 'plane'), fc.array(value, { maxLength: 3 }), (images, filtered, allowed) => {
        const cols = RecordColumns.fromRecords(images);
        const table = RecordTable.sorted(cols);
        const droppedRows: string[] = [];
        const kept = table.withoutDuplicates((_, dropped) => droppedRows.push(table.path(dropped)));
        const ref = referenceIndex(images);
        expect(kept.images().map(plain)).toEqual(ref.kept.map(plain));
        expect(droppedRows).toEqual(ref.dropped);
        expect(kept.components).toEqual(referenceValues(ref.kept));
        for (let i = 0; i < kept.length; i++) {
          for (const [c, vs] of Object.entries(kept.components)) {
            const v = kept.valueIndexOf(c)(i);
            expect(v < 0 ? undefined : vs[v]).toBe(ref.kept[i]!.components[c]);
          }
        }
        // A filter keeps the rows whose value is allowed, and narrows the component lists to theirs.
        const narrowed = kept.filter(new Map([[filtered, new Set(allowed)]]));
        const refNarrowed = ref.kept.filter((r) => r.components[filtered] !== undefined && allowed.includes(r.components[filtered]!));
        expect(narrowed.images().map(plain)).toEqual(refNarrowed.map(plain));
        expect(narrowed.components).toEqual(referenceValues(refNarrowed));
        for (let i = 0; i < narrowed.length; i++) {
          for (const [c, vs] of Object.entries(narrowed.components)) {
            const v = narrowed.valueIndexOf(c)(i);
            expect(v < 0 ? undefined : vs[v]).toBe(refNarrowed[i]!.components[c]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the fast readers (ImageXpress scanner, pattern) read a name exactly as parse does, or leave it to parse', () => {
    // One set of columns for all names, so values interned by earlier names are reused.
    const shared = new RecordColumns();
    let scanned = 0;
    fc.assert(
      fc.property(ixName, (name) => {
        const before = shared.length;
        if (!scanImageXpressName(name, shared)) {
          expect(shared.length).toBe(before);
          return;
        }
        scanned++;
        expect(shared.length).toBe(before + 1);
        expect(shared.record(before)).toEqual({ path: name, components: imageXpressHandler.parse(name) });
      }),
      { numRuns: 2000 },
    );
    expect(scanned).toBeGreaterThan(0);
    const pattern = createPatternHandler('{well}_s{site}_w{channel}{*}.tif');
    fc.assert(
      fc.property(ixName, (name) => {
        const before = shared.length;
        const read = pattern.parseInto!(name, shared);
        expect(read).toBe(pattern.parse(name) !== undefined);
        if (read) expect(shared.record(before)).toEqual({ path: name, components: pattern.parse(name) });
      }),
      { numRuns: 500 },
    );
    // The regular names of a large plate are the scanner's, or it saves nothing.
    for (const name of ['A01_s1_w1_z1_t1.tif', 'Plate_1_B12_s10_w2.TIF', 'AF48_s3_w4_z12_t100.tiff', 'A1.tif']) {
      expect(scanImageXpressName(name, new RecordColumns())).toBe(true);
    }
  });

  const handlers: readonly [string, FormatHandler, { format?: string; pattern?: string }][] = [
    ['ImageXpress', imageXpressHandler, { format: 'ImageXpress' }],
    ['pattern', createPatternHandler('{well}_s{site}_w{channel}{*}.tif'), { pattern: '{well}_s{site}_w{channel}{*}.tif' }],
  ];
  const axes: readonly (readonly string[])[] = [['well'], ['well', 'site'], ['timepoint'], ['site', 'timepoint'], ['channel']];

  it.each(handlers)('%s plates on disk: the same records, skips, task groups and input keys as the reference', async (_, handler, options) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(ixName, { maxLength: 25 }), fc.constantFrom(...axes), async (names, axis) => {
        const root = path.join(TMP, `plate${++run}-${handler.name}`);
        for (const n of names) {
          await mkdir(path.dirname(path.join(root, n)), { recursive: true });
          await writeFile(path.join(root, n), '');
        }
        await mkdir(root, { recursive: true });
        const images = names
          .filter((n) => handler.ignores?.(n) !== true)
          .flatMap((n) => {
            const components = handler.parse(n);
            return components ? [{ path: n, components }] : [];
          });
        const ref = referenceIndex(images);
        const discovering = discoverPlate(root, { ...options, lenient: true });
        if (ref.kept.length === 0) {
          // No image at all, or none in this format.
          await expect(discovering).rejects.toMatchObject({ code: expect.stringMatching(/^E_(DISCOVERY_EMPTY|FORMAT_UNKNOWN)$/) });
          return;
        }
        const plate: PlateIndex = await discovering;
        expect(plate.images.map(plain)).toEqual(ref.kept.map(plain));
        expect(plate.components).toEqual(referenceValues(ref.kept));
        expect(plate.skipped.filter((s) => s.reason.startsWith('same components')).map((s) => s.path).sort()).toEqual([...ref.dropped].sort());

        if (!axis.every((c) => c in plate.components)) return;
        const compiled = await compile({ steps: [{ func: 'image_stats', variableComponents: ['z'] }] }, plate, { out: path.join(root, 'out'), config: { axis, variable: [], groupBy: null } });
        const tasks = [...compiled.tasks.values()].map((t) => ({ id: t.taskId, inputs: t.inputs.map(plain), key: t.inputsKey }));
        expect(tasks).toEqual(referenceTasks(root, ref.kept, axis).map((t) => ({ ...t, inputs: t.inputs.map(plain) })));
        await rm(root, { recursive: true, force: true });
      }),
      { numRuns: 25 },
    );
  });

  it('records and images of an index agree, and a filtered index shares the record objects', async () => {
    const root = path.join(TMP, 'agree');
    await mkdir(root, { recursive: true });
    for (const w of ['A01', 'A02', 'B10']) for (const c of [1, 2]) await writeFile(path.join(root, `P_${w}_s1_w${c}.tif`), '');
    const plate = await discoverPlate(root);
    const records = plate.records!;
    expect(records.length).toBe(6);
    expect(Object.keys(plate)).not.toContain('records'); // a spread copy never carries stale columns
    const well = records.valueIndexOf('well');
    for (let i = 0; i < records.length; i++) {
      expect(records.record(i)).toBe(plate.images[i]);
      expect(plate.components['well']![well(i)]).toBe(plate.images[i]!.components['well']);
      expect([records.path(i), records.page(i), records.sample(i)]).toEqual([plate.images[i]!.path, undefined, undefined]);
    }
    expect(records.valueIndexOf('plane')(0)).toBe(-1);
    const b = await discoverPlate(root, { filters: { well: 'B10' } });
    expect(b.components['well']).toEqual(['B10']);
    expect(b.records!.valueIndexOf('well')(0)).toBe(0);
    expect(b.images).toEqual(plate.images.slice(4));
    expect(b.images[0]).toBe(plate.images[4]);
  });

  it('compiles a hand-built index (no columns) with its images in their own order and keys', async () => {
    const images: ImageRecord[] = [
      { path: 'b.tif', components: { well: 'B01', site: '2', z: '1' } },
      { path: 'a.tif', components: { well: 'A01', site: '1', z: '1' }, page: 3 },
      { path: 'c.tif', components: { well: 'A01', site: '10', z: '1' }, sample: 'luminance' },
    ];
    const plate: PlateIndex = { root: '/plates/hand', format: 'pattern', images, components: referenceValues(images), skipped: [] };
    const compiled = await compile({ steps: [{ func: 'image_stats', variableComponents: ['z'] }] }, plate, { out: '/tmp/hand-out' });
    const tasks = [...compiled.tasks.values()].map((t) => ({ id: t.taskId, inputs: t.inputs, key: t.inputsKey }));
    expect(tasks).toEqual(referenceTasks('/plates/hand', images, ['well']));
    expect(tasks[0]!.inputs[0]).toBe(images[1]); // the caller's own records travel in the plan
  });
});
