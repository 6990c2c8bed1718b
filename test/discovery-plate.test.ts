import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DiscoveryError, UnsafePathError } from '../src/errors.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import type { PlateIndex } from '../src/microscopes/types.js';

const TMP = await mkdtemp(path.join(os.tmpdir(), 'plateflow-discovery-'));
afterAll(() => rm(TMP, { recursive: true, force: true }));
beforeEach(() => clearComponentCache());

let counter = 0;
/** A plate folder holding empty files (discovery must never read pixels). */
async function plate(files: readonly string[], contents: Record<string, string> = {}): Promise<string> {
  const root = path.join(TMP, `plate${++counter}`);
  await mkdir(root, { recursive: true });
  for (const f of files) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), contents[f] ?? '');
  }
  return root;
}

async function discoveryError(p: Promise<unknown>): Promise<DiscoveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DiscoveryError);
    return err as DiscoveryError;
  }
  throw new Error('expected a DiscoveryError');
}

const ixNames = (wells: string[], sites: number, channels: number): string[] =>
  wells.flatMap((w) => Array.from({ length: sites }, (_, s) => Array.from({ length: channels }, (_, c) => `Plate1_${w}_s${s + 1}_w${c + 1}.tif`)).flat());

describe('discoverPlate — ImageXpress', () => {
  it('indexes a flat plate: components naturally sorted, records sorted, grid inferred', async () => {
    const root = await plate([...ixNames(['A10', 'A2', 'B1'], 2, 2), 'README.md', 'plate.csv']);
    const index = await discoverPlate(root);
    expect(index.root).toBe(root);
    expect(index.format).toBe('ImageXpress');
    expect(index.components).toEqual({ well: ['A02', 'A10', 'B01'], site: ['1', '2'], channel: ['1', '2'], z: ['1'], timepoint: ['1'] });
    expect(index.images).toHaveLength(12);
    expect(index.images.slice(0, 3).map((r) => r.path)).toEqual(['Plate1_A2_s1_w1.tif', 'Plate1_A2_s1_w2.tif', 'Plate1_A2_s2_w1.tif']);
    expect(index.images[0]!.components).toEqual({ well: 'A02', site: '1', channel: '1', z: '1', timepoint: '1' });
    expect(index.skipped).toEqual([]);
    expect(index.grid).toEqual({ rows: 8, columns: 12 });
  });

  it('reads TimePoint/ZStep folders as the reference peer writes them', async () => {
    const files = [1, 2, 3].flatMap((z) => ['A01', 'A02'].flatMap((w) => [`TimePoint_1/ZStep_${z}/${w}_s1_w1.tif`, `TimePoint_1/ZStep_${z}/${w}_s1_w2.tif`]));
    const index = await discoverPlate(await plate(files));
    expect(index.components['z']).toEqual(['1', '2', '3']);
    expect(index.images.map((r) => `${r.components['well']}/${r.components['channel']}/${r.components['z']}`).slice(0, 4)).toEqual([
      'A01/1/1',
      'A01/1/2',
      'A01/1/3',
      'A01/2/1',
    ]);
  });

  it('takes the grid from the .HTD file (columns = XWells, rows = YWells)', async () => {
    const htd = '"HTSInfoFile", Version 1.0\r\n"XWells", 24\r\n"YWells", 16\r\n"Sites", TRUE\r\n"XSites", 2\r\n';
    const index = await discoverPlate(await plate([...ixNames(['A01'], 1, 1), 'Plate1.HTD'], { 'Plate1.HTD': htd }));
    expect(index.grid).toEqual({ rows: 16, columns: 24 });
  });

  it('ignores thumbnails, hidden files and *_plateflow output folders', async () => {
    const root = await plate([
      ...ixNames(['A01'], 1, 1),
      'Plate1_A01_s1_w1_thumb7B9A1C2D-1111-2222-3333-444455556666.tif',
      '.hidden.tif',
      '.cache/x.tif',
      'Plate1_plateflow/1_blur/well-A01_site-1_channel-1.tif',
    ]);
    const index = await discoverPlate(root);
    expect(index.images.map((r) => r.path)).toEqual(['Plate1_A01_s1_w1.tif']);
    expect(index.skipped).toEqual([{ path: 'Plate1_plateflow', reason: 'named like a plateflow output folder (*_plateflow): not read as input' }]);
  });

  it('follows symbolic links to image folders', async () => {
    const data = await plate(ixNames(['C03'], 1, 1));
    const root = await plate([]);
    await symlink(data, path.join(root, 'linked'));
    await symlink(root, path.join(root, 'loop'));
    const index = await discoverPlate(root);
    expect(index.images.map((r) => r.path)).toEqual(['linked/Plate1_C03_s1_w1.tif']);
  });

  it('returns a deeply frozen index that survives structuredClone', async () => {
    const index = await discoverPlate(await plate(ixNames(['A01', 'A02'], 1, 1)));
    expect(Object.isFrozen(index)).toBe(true);
    expect(Object.isFrozen(index.images[0]!.components)).toBe(true);
    expect(Object.isFrozen(index.components['well'])).toBe(true);
    expect(() => {
      (index.images[0]!.components as Record<string, string>)['well'] = 'Z99';
    }).toThrow(TypeError);
    expect(structuredClone(index)).toEqual(index);
  });
});

describe('discoverPlate — strict and lenient', () => {
  it('strict (default): unmatched image files fail with the list and the count', async () => {
    const root = await plate([...ixNames(['A01'], 1, 1), 'extra/scan 2.tif', 'bad_name.TIF', 'notes.txt']);
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_UNMATCHED_FILES');
    expect(err.message).toBe(
      `2 image files in ${root} do not follow the ImageXpress naming (<prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif):\n` +
        '  bad_name.TIF\n  extra/scan 2.tif\n' +
        'Rename or move them, or discover leniently to skip them.',
    );
    expect(err.context).toMatchObject({ path: root, format: 'ImageXpress', files: ['bad_name.TIF', 'extra/scan 2.tif'], total: 2 });
  });

  it('strict: lists the first 20 and says how many more', async () => {
    const junk = Array.from({ length: 25 }, (_, i) => `junk_${String(i).padStart(2, '0')}.tif`);
    const err = await discoveryError(discoverPlate(await plate([...ixNames(['A01'], 1, 1), ...junk])));
    expect(err.message).toMatch(/^25 image files in .* do not follow the ImageXpress naming/);
    expect(err.message).toContain('  junk_19.tif\n  … and 5 more\n');
    expect(err.message).not.toContain('junk_20.tif');
    expect(err.context['total']).toBe(25);
    expect(err.context['files']).toHaveLength(20);
  });

  it('strict: a single unmatched file reads in the singular', async () => {
    const root = await plate([...ixNames(['A01'], 1, 1), 'odd.tif']);
    const err = await discoveryError(discoverPlate(root));
    expect(err.message.split('\n')[0]).toBe(`1 image file in ${root} does not follow the ImageXpress naming (<prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif):`);
  });

  it('lenient: unmatched files go to skipped with a reason', async () => {
    const root = await plate([...ixNames(['A01'], 1, 1), 'extra/scan 2.tif', 'bad_name.TIF']);
    const index = await discoverPlate(root, { lenient: true });
    expect(index.images).toHaveLength(1);
    expect(index.skipped).toEqual([
      { path: 'bad_name.TIF', reason: 'does not match <prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif' },
      { path: 'extra/scan 2.tif', reason: 'does not match <prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif' },
    ]);
  });

  it('duplicate component combinations name both files (strict) or skip the later one (lenient)', async () => {
    const root = await plate(['A1_s1_w1.tif', 'A01_s1_w1.tif', 'A02_s1_w1.tif']);
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_UNMATCHED_FILES');
    expect(err.message).toBe(
      'A01_s1_w1.tif and A1_s1_w1.tif both carry well=A01, site=1, channel=1, z=1, timepoint=1; each image must have its own component values — remove or rename one of them',
    );
    const index = await discoverPlate(root, { lenient: true });
    expect(index.images.map((r) => r.path)).toEqual(['A01_s1_w1.tif', 'A02_s1_w1.tif']);
    expect(index.skipped).toEqual([{ path: 'A1_s1_w1.tif', reason: 'same components as A01_s1_w1.tif (well=A01, site=1, channel=1, z=1, timepoint=1)' }]);
  });
});

describe('discoverPlate — missing, empty, unknown', () => {
  it('a missing folder is E_PLATE_NOT_FOUND naming the path', async () => {
    const missing = path.join(TMP, 'no-such-plate');
    const err = await discoveryError(discoverPlate(missing));
    expect(err.code).toBe('E_PLATE_NOT_FOUND');
    expect(err.message).toBe(`plate folder ${missing} does not exist`);
    expect(err.context['path']).toBe(missing);
  });

  it('a file instead of a folder is E_PLATE_NOT_FOUND', async () => {
    const root = await plate(['A01_s1_w1.tif']);
    const err = await discoveryError(discoverPlate(path.join(root, 'A01_s1_w1.tif')));
    expect(err.code).toBe('E_PLATE_NOT_FOUND');
    expect(err.message).toMatch(/is a file, not a folder/);
  });

  it('an empty folder is E_DISCOVERY_EMPTY naming the path', async () => {
    const root = await plate([]);
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_DISCOVERY_EMPTY');
    expect(err.message).toBe(`no image files (.tif/.tiff) in ${root} (the folder is empty)`);
  });

  it('a folder with only non-image files is E_DISCOVERY_EMPTY', async () => {
    const root = await plate(['README.md', 'Index.xml']);
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_DISCOVERY_EMPTY');
    expect(err.message).toBe(`no image files (.tif/.tiff) in ${root} (2 other files, e.g. 'Index.xml')`);
  });

  it('an ordinary name with a dash is not taken for plateflow output', async () => {
    const err = await discoveryError(discoverPlate(await plate(['holiday-photo.tif'])));
    expect(err.code).toBe('E_FORMAT_UNKNOWN');
  });

  it('metadata listing only missing files is E_DISCOVERY_EMPTY saying why', async () => {
    const meta = JSON.stringify({
      format: 'plateflow',
      version: 1,
      subdirectories: { out: { handler: 'plateflow', sourceFormat: 'x', backend: 'disk', main: true, grid: null, components: {}, files: { 'well-A01.tif': { well: 'A01' } } } },
    });
    const root = await plate(['plateflow_metadata.json'], { 'plateflow_metadata.json': meta });
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_DISCOVERY_EMPTY');
    expect(err.message).toBe(`no plateflow images in ${root}; 1 file was skipped, e.g. out/well-A01.tif: listed in plateflow_metadata.json but missing on disk`);
  });

  it('no fitting format is E_FORMAT_UNKNOWN with every reason', async () => {
    const root = await plate(['img_001.tif']);
    const err = await discoveryError(discoverPlate(root));
    expect(err.code).toBe('E_FORMAT_UNKNOWN');
    expect(err.message.split('\n')).toHaveLength(7);
    expect(err.message).toContain("  - OME-Zarr:");
    expect(err.message).toContain("  - ArrayScan: no file matched <plate>_<well>f<field:2>d<channel>.TIF; e.g. 'img_001.tif'");
  });

  it('a forced format that does not fit says why', async () => {
    const root = await plate(ixNames(['A01'], 1, 1));
    const err = await discoveryError(discoverPlate(root, { format: 'opera' }));
    expect(err.code).toBe('E_FORMAT_UNKNOWN');
    expect(err.message).toBe(
      `${root} is not a OperaPhenix plate: no file matched r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk1fl1.tiff; e.g. 'Plate1_A01_s1_w1.tif'`,
    );
  });

  it('an unknown format name or bad pattern is a ConfigError before any disk access', async () => {
    const missing = path.join(TMP, 'never-created');
    await expect(discoverPlate(missing, { format: 'zeiss' })).rejects.toThrow(ConfigError);
    await expect(discoverPlate(missing, { pattern: '(?<well' })).rejects.toThrow(ConfigError);
    await expect(discoverPlate(missing, { format: 'ImageXpress', pattern: '{well}.tif' })).rejects.toThrow(/drop one/);
  });
});

describe('discoverPlate — pattern and Opera Phenix', () => {
  it('uses a user pattern', async () => {
    const root = await plate(['exp/B3-ch1-f2.tif', 'exp/B3-ch2-f2.tif', 'exp/C10-ch1-f1.tif']);
    const index = await discoverPlate(root, { pattern: '{well}-ch{channel}-f{site}.tif' });
    expect(index.format).toBe('pattern');
    expect(index.components).toEqual({ well: ['B03', 'C10'], site: ['1', '2'], channel: ['1', '2'], z: ['1'], timepoint: ['1'] });
  });

  it('indexes an Opera Phenix export beside its Index.xml', async () => {
    const files = ['Images/Index.idx.xml'];
    for (const f of [1, 2]) for (const p of [1, 2]) for (const ch of [1, 2]) files.push(`Images/r02c05f0${f}p0${p}-ch${ch}sk1fk1fl1.tiff`);
    const index = await discoverPlate(await plate(files));
    expect(index.format).toBe('OperaPhenix');
    expect(index.components).toEqual({ well: ['B05'], site: ['1', '2'], channel: ['1', '2'], z: ['1', '2'], timepoint: ['1'] });
    expect(index.grid).toEqual({ rows: 8, columns: 12 });
  });
});

describe('discoverPlate — filters', () => {
  it('keeps only matching records and recomputes components', async () => {
    const wells = ['A01', 'A02', 'A12', 'B01', 'B12', 'C01'];
    const root = await plate(ixNames(wells, 2, 2));
    const index = await discoverPlate(root, { filters: { well: 'A01:B12', site: '2', channel: ['1'] } });
    expect(index.components['well']).toEqual(['A01', 'A02', 'A12', 'B01', 'B12']);
    expect(index.components['site']).toEqual(['2']);
    expect(index.components['channel']).toEqual(['1']);
    expect(index.images).toHaveLength(5);
    const full = await discoverPlate(root);
    expect(full.images).toHaveLength(24);
    expect(index.grid).toEqual(full.grid);
  });

  it('rejects a filter on a component the plate lacks, and filters matching nothing', async () => {
    const root = await plate(ixNames(['A01'], 1, 1));
    await expect(discoverPlate(root, { filters: { plane: '1' } })).rejects.toThrow(
      "filter on component 'plane', which this ImageXpress plate does not have; it has: well, site, channel, z, timepoint",
    );
    // A value the plate does not have is named as such, with the values it has.
    await expect(discoverPlate(root, { filters: { well: 'H12' } })).rejects.toMatchObject({
      code: 'E_CONFIG_INVALID',
      message: `well filter "H12": 'H12' matches no well of this plate; its well values are A01`,
    });
    await expect(discoverPlate(root, { filters: { well: 'A01:' } })).rejects.toThrow(ConfigError);
  });
});

describe('discoverPlate — cache', () => {
  it('caches per plate until clearComponentCache forces a rescan', async () => {
    const root = await plate(ixNames(['A01', 'A02'], 1, 1));
    const first = await discoverPlate(root);
    expect(first.components['well']).toEqual(['A01', 'A02']);

    await writeFile(path.join(root, 'Plate1_B07_s1_w1.tif'), '');
    const cached = await discoverPlate(root);
    expect(cached).toBe(first);
    expect(cached.components['well']).toEqual(['A01', 'A02']);

    clearComponentCache(path.join(root, '.')); // any spelling of the same folder
    const fresh = await discoverPlate(root);
    expect(fresh).not.toBe(first);
    expect(fresh.components['well']).toEqual(['A01', 'A02', 'B07']);
  });

  it('keys the cache by options, and shares one scan between concurrent callers', async () => {
    const root = await plate([...ixNames(['A01'], 1, 1), 'odd.tif']);
    const [a, b] = await Promise.all([discoverPlate(root, { lenient: true }), discoverPlate(root, { lenient: true })]);
    expect(a).toBe(b);
    await expect(discoverPlate(root)).rejects.toThrow(DiscoveryError);
  });

  it('does not cache failures', async () => {
    const root = await plate([]);
    await expect(discoverPlate(root)).rejects.toThrow(DiscoveryError);
    await writeFile(path.join(root, 'A01_s1_w1.tif'), '');
    expect((await discoverPlate(root)).images).toHaveLength(1);
  });

  it('clearing one plate keeps the others cached', async () => {
    const r1 = await plate(ixNames(['A01'], 1, 1));
    const r2 = await plate(ixNames(['A01'], 1, 1));
    const i1 = await discoverPlate(r1);
    const i2 = await discoverPlate(r2);
    clearComponentCache(r1);
    expect(await discoverPlate(r2)).toBe(i2);
    expect(await discoverPlate(r1)).not.toBe(i1);
  });
});

describe('discoverPlate — plateflow output', () => {
  const files = (n: number, well = 'A01') =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`well-${well}_site-${i + 1}_channel-1.tif`, { well, site: String(i + 1), channel: '1' }]));
  const metadata = (subdirectories: Record<string, unknown>) => JSON.stringify({ format: 'plateflow', version: 1, subdirectories });
  const sub = (main: boolean, f: Record<string, Record<string, string>>, extra: Record<string, unknown> = {}) => ({
    handler: 'plateflow',
    sourceFormat: 'ImageXpress',
    backend: 'disk',
    main,
    grid: { rows: 8, columns: 12 },
    components: {},
    files: f,
    ...extra,
  });

  async function outputPlate(meta: string, onDisk: string[]): Promise<string> {
    return plate(['plateflow_metadata.json', ...onDisk], { 'plateflow_metadata.json': meta });
  }

  it('reads the main sub-directory from plateflow_metadata.json', async () => {
    const root = await outputPlate(metadata({ '1_blur': sub(false, files(1)), '2_seg': sub(true, files(2)) }), [
      '1_blur/well-A01_site-1_channel-1.tif',
      '2_seg/well-A01_site-1_channel-1.tif',
      '2_seg/well-A01_site-2_channel-1.tif',
    ]);
    const index = await discoverPlate(root);
    expect(index.format).toBe('plateflow');
    expect(index.images.map((r) => r.path)).toEqual(['2_seg/well-A01_site-1_channel-1.tif', '2_seg/well-A01_site-2_channel-1.tif']);
    expect(index.images[1]!.components).toEqual({ well: 'A01', site: '2', channel: '1', z: '1', timepoint: '1' });
    expect(index.grid).toEqual({ rows: 8, columns: 12 });
  });

  it('reads another sub-directory when asked', async () => {
    const root = await outputPlate(metadata({ '1_blur': sub(false, files(1)), '2_seg': sub(true, files(1)) }), [
      '1_blur/well-A01_site-1_channel-1.tif',
      '2_seg/well-A01_site-1_channel-1.tif',
    ]);
    const index = await discoverPlate(root, { subdirectory: '1_blur' });
    expect(index.images.map((r) => r.path)).toEqual(['1_blur/well-A01_site-1_channel-1.tif']);
    await expect(discoverPlate(root, { subdirectory: '9_none' })).rejects.toThrow("sub-directory '9_none' is not in");
  });

  it('skips listed-but-missing files and accepts our own unlisted files', async () => {
    const root = await outputPlate(metadata({ out: sub(true, files(2)) }), [
      'out/well-A01_site-1_channel-1.tif',
      'out/well-A01_site-3_channel-1.tif',
    ]);
    const index = await discoverPlate(root);
    expect(index.images.map((r) => r.path)).toEqual(['out/well-A01_site-1_channel-1.tif', 'out/well-A01_site-3_channel-1.tif']);
    expect(index.skipped).toEqual([{ path: 'out/well-A01_site-2_channel-1.tif', reason: 'listed in plateflow_metadata.json but missing on disk' }]);
  });

  it('rejects a metadata file name that leaves the folder', async () => {
    const root = await outputPlate(metadata({ out: sub(true, { '../../etc/passwd': { well: 'A01' } }) }), ['out/well-A01.tif']);
    await expect(discoverPlate(root)).rejects.toThrow(UnsafePathError);
    const root2 = await outputPlate(metadata({ '../up': sub(true, files(1)) }), ['out/well-A01.tif']);
    await expect(discoverPlate(root2)).rejects.toThrow(UnsafePathError);
    // with no image on disk at all, the metadata is still checked (not "empty folder")
    const root3 = await outputPlate(metadata({ main: sub(true, { '../../etc/passwd': { well: 'A01' } }) }), []);
    await expect(discoverPlate(root3)).rejects.toThrow("unsafe path \"../../etc/passwd\": '..' is not allowed");
  });

  it('rejects metadata that is not ours, or ambiguous about the main output', async () => {
    const bad = await outputPlate('{"format":"other"}', ['out/well-A01.tif']);
    const err = await discoveryError(discoverPlate(bad));
    expect(err.code).toBe('E_FORMAT_UNKNOWN');
    expect(err.message).toMatch(/is not plateflow metadata \(version 1\): at format:/);
    const notJson = await outputPlate('{', ['out/well-A01.tif']);
    expect((await discoveryError(discoverPlate(notJson))).message).toMatch(/is not readable JSON/);
    const two = await outputPlate(metadata({ a: sub(false, files(1)), b: sub(false, files(1)) }), ['a/well-A01_site-1_channel-1.tif']);
    expect((await discoveryError(discoverPlate(two))).message).toMatch(/marks no sub-directories as main; choose one with the subdirectory option: a, b$/);
  });

  it('accepts a sub-directory on its own, named the way plateflow writes', async () => {
    const root = await plate(['well-B02_site-1_channel-1_plane-3.tif', 'well-A01_site-1_channel-1_plane-3.tif']);
    const index = await discoverPlate(root);
    expect(index.format).toBe('plateflow');
    expect(index.components).toEqual({ well: ['A01', 'B02'], site: ['1'], channel: ['1'], z: ['1'], timepoint: ['1'], plane: ['3'] });
  });
});
