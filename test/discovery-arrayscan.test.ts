import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';

const SAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data', 'bbbc016-arrayscan');
const present = existsSync(SAMPLE);
if (!present) console.warn(`skipping the real ArrayScan sample tests: ${SAMPLE} is absent`);

describe.skipIf(!present)('discoverPlate on the real BBBC016 ArrayScan sample', () => {
  it('finds 24 wells × 3 sites × 1 channel, ignoring README.md', async () => {
    clearComponentCache(SAMPLE);
    const index = await discoverPlate(SAMPLE);
    expect(index.format).toBe('ArrayScan');
    expect(index.images).toHaveLength(72);
    expect(index.skipped).toEqual([]);
    expect(index.components['well']).toEqual(Array.from({ length: 24 }, (_, i) => `O${String(i + 1).padStart(2, '0')}`));
    expect(index.components['site']).toEqual(['0', '1', '2']);
    expect(index.components['channel']).toEqual(['2']);
    expect(index.components['z']).toEqual(['1']);
    expect(index.components['timepoint']).toEqual(['1']);
    expect(index.grid).toEqual({ rows: 16, columns: 24 });
    expect(index.images[0]).toEqual({
      path: 'AS_09047_050428030001_O01f00d2.TIF',
      components: { well: 'O01', site: '0', channel: '2', z: '1', timepoint: '1' },
    });
    expect(index.images.at(-1)!.path).toBe('AS_09047_050428030001_O24f02d2.TIF');
  });

  it('filters wells with a range', async () => {
    const index = await discoverPlate(SAMPLE, { filters: { well: 'O01:O06' } });
    expect(index.components['well']).toEqual(['O01', 'O02', 'O03', 'O04', 'O05', 'O06']);
    expect(index.images).toHaveLength(18);
  });
});
