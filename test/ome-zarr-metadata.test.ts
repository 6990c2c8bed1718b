import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { OmeZarrPlateWriter } from '../src/ome-zarr/plate-writer.js';
import { openOmeZarrPlate } from '../src/ome-zarr/plate-reader.js';
import { tempDir } from './helpers.js';

const root = await tempDir('plateflow-zarr-meta-');
const json = async (...parts: string[]) => JSON.parse(await readFile(path.join(...parts), 'utf8')) as Record<string, any>;

const ROW = /^[A-Za-z0-9]+$/;
const WELL_PATH = /^[A-Za-z0-9]+\/[A-Za-z0-9]+$/;

async function layout(name: string, ngff: '0.4' | '0.5'): Promise<string> {
  const out = path.join(root, name);
  await OmeZarrPlateWriter.create(
    out,
    [
      { well: 'B03', field: '0', shape: { t: 1, c: 2, z: 4, y: 8, x: 6 }, dtype: 'uint16', channelLabels: ['DAPI', 'GFP'], pixelSize: { x: 0.65, y: 0.65, z: 2, unit: 'micrometer' } },
      { well: 'B03', field: '1', shape: { t: 1, c: 2, z: 4, y: 8, x: 6 }, dtype: 'uint16', channelLabels: ['DAPI', 'GFP'] },
      { well: 'A12', field: '0', shape: { t: 1, c: 2, z: 4, y: 8, x: 6 }, dtype: 'uint16', channelLabels: ['DAPI', 'GFP'] },
    ],
    { ngff },
  );
  return out;
}

/** The fields the NGFF plate schema requires, with its patterns and index rules. */
function checkPlate(plate: Record<string, any>): void {
  expect(plate['rows'].map((r: { name: string }) => r.name)).toEqual(['A', 'B']);
  expect(plate['columns'].map((c: { name: string }) => c.name)).toEqual(['3', '12']);
  for (const r of [...plate['rows'], ...plate['columns']]) expect(r.name).toMatch(ROW);
  expect(plate['wells']).toEqual([
    { path: 'A/12', rowIndex: 0, columnIndex: 1 },
    { path: 'B/3', rowIndex: 1, columnIndex: 0 },
  ]);
  for (const w of plate['wells']) expect(w.path).toMatch(WELL_PATH);
  expect(plate['field_count']).toBe(2);
  expect(plate['acquisitions']).toEqual([{ id: 0, name: plate['name'], maximumfieldcount: 2 }]);
  expect(plate['name']).toMatch(/^v0[45]$/);
}

function checkImage(ms: Record<string, any>, omero: Record<string, any>): void {
  expect(ms['axes']).toEqual([
    { name: 't', type: 'time' },
    { name: 'c', type: 'channel' },
    { name: 'z', type: 'space', unit: 'micrometer' },
    { name: 'y', type: 'space', unit: 'micrometer' },
    { name: 'x', type: 'space', unit: 'micrometer' },
  ]);
  expect(ms['type']).toBe('local_mean');
  expect(ms['metadata']).toMatchObject({ method: 'plateflow downsample2x' });
  expect(ms['datasets']).toEqual([{ path: '0', coordinateTransformations: [{ type: 'scale', scale: [1, 1, 2, 0.65, 0.65] }] }]);
  expect(omero['channels']).toHaveLength(2);
  for (const ch of omero['channels']) {
    expect(ch).toMatchObject({ active: true, window: { start: 0, end: 65535, min: 0, max: 65535 } });
    expect(ch.color).toMatch(/^[0-9A-F]{6}$/);
  }
  expect(omero['channels'].map((c: { label: string }) => c.label)).toEqual(['DAPI', 'GFP']);
}

describe('NGFF 0.4 (zarr v2)', () => {
  it('writes plate, well, image and array metadata with the schema fields', async () => {
    const out = await layout('v04.zarr', '0.4');
    expect(await json(out, '.zgroup')).toEqual({ zarr_format: 2 });
    const plate = (await json(out, '.zattrs'))['plate'];
    expect(plate['version']).toBe('0.4');
    checkPlate(plate);
    expect(await json(out, 'B/3', '.zgroup')).toEqual({ zarr_format: 2 });
    expect((await json(out, 'B/3', '.zattrs'))['well']).toEqual({ version: '0.4', images: [{ path: '0', acquisition: 0 }, { path: '1', acquisition: 0 }] });
    const image = await json(out, 'B/3/0', '.zattrs');
    expect(image['multiscales']).toHaveLength(1);
    expect(image['multiscales'][0]['version']).toBe('0.4');
    checkImage(image['multiscales'][0], image['omero']);
    expect(await json(out, 'B/3/0/0', '.zarray')).toEqual({
      zarr_format: 2,
      shape: [1, 2, 4, 8, 6],
      chunks: [1, 1, 1, 8, 6],
      dtype: '<u2',
      compressor: { id: 'gzip', level: 1 },
      fill_value: 0,
      order: 'C',
      filters: null,
      dimension_separator: '/',
    });
    expect((await readdir(out)).filter((n) => n === 'zarr.json')).toEqual([]);
  });
});

describe('NGFF 0.5 (zarr v3)', () => {
  it('puts the metadata under attributes.ome with one version, and names the array dimensions', async () => {
    const out = await layout('v05.zarr', '0.5');
    const rootDoc = await json(out, 'zarr.json');
    expect(rootDoc).toMatchObject({ zarr_format: 3, node_type: 'group' });
    const ome = rootDoc['attributes']['ome'];
    expect(ome['version']).toBe('0.5');
    expect(ome['plate']['version']).toBeUndefined();
    checkPlate(ome['plate']);
    const well = (await json(out, 'B/3', 'zarr.json'))['attributes']['ome'];
    expect(well).toEqual({ version: '0.5', well: { images: [{ path: '0', acquisition: 0 }, { path: '1', acquisition: 0 }] } });
    const image = (await json(out, 'B/3/0', 'zarr.json'))['attributes']['ome'];
    expect(image['version']).toBe('0.5');
    expect(image['multiscales'][0]['version']).toBeUndefined();
    checkImage(image['multiscales'][0], image['omero']);
    expect(await json(out, 'B/3/0/0', 'zarr.json')).toEqual({
      zarr_format: 3,
      node_type: 'array',
      shape: [1, 2, 4, 8, 6],
      data_type: 'uint16',
      chunk_grid: { name: 'regular', configuration: { chunk_shape: [1, 1, 1, 8, 6] } },
      chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
      fill_value: 0,
      codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 1 } }],
      attributes: {},
      dimension_names: ['t', 'c', 'z', 'y', 'x'],
    });
    const names = await readdir(out, { recursive: true });
    expect(names.filter((n) => /(^|\/)\.z(attrs|group|array)$/.test(n))).toEqual([]);
  });

  it('reads the structure back: version, wells, fields, labels', async () => {
    const plate = await openOmeZarrPlate(path.join(root, 'v05.zarr'));
    expect(plate).toMatchObject({ ngffVersion: '0.5', zarrVersion: 3, name: 'v05', rows: ['A', 'B'], columns: ['3', '12'] });
    expect(plate.positions.map((p) => [p.well, p.field, p.arrayPath])).toEqual([
      ['A12', '0', 'A/12/0/0'],
      ['B03', '0', 'B/3/0/0'],
      ['B03', '1', 'B/3/1/0'],
    ]);
    expect(plate.positions[1]!.channelLabels).toEqual(['DAPI', 'GFP']);
  });
});

describe('metadata from disk is data, not trusted paths', () => {
  it('rejects well paths and dataset paths that would leave the plate', async () => {
    const out = await layout('evil.zarr', '0.4');
    const attrs = await json(out, '.zattrs');
    attrs['plate']['wells'][0]['path'] = '../../etc';
    await writeFile(path.join(out, '.zattrs'), JSON.stringify(attrs));
    await expect(openOmeZarrPlate(out)).rejects.toMatchObject({ code: 'E_ZARR_INVALID', message: expect.stringMatching(/plate\.wells\.0\.path/) });

    const out2 = await layout('evil2.zarr', '0.4');
    const image = await json(out2, 'B/3/0', '.zattrs');
    image['multiscales'][0]['datasets'][0]['path'] = '../../../../outside';
    await writeFile(path.join(out2, 'B/3/0', '.zattrs'), JSON.stringify(image));
    clearComponentCache();
    await expect(discoverPlate(out2)).rejects.toMatchObject({ code: 'E_ZARR_INVALID', message: expect.stringMatching(/not a safe relative path/) });
  });

  it('says why a plain Zarr group is not a plate', async () => {
    const out = await layout('noplate.zarr', '0.5');
    const doc = await json(out, 'zarr.json');
    doc['attributes'] = {};
    await writeFile(path.join(out, 'zarr.json'), JSON.stringify(doc));
    await expect(openOmeZarrPlate(out)).rejects.toMatchObject({ code: 'E_ZARR_INVALID', message: expect.stringMatching(/no "plate" attributes/) });
  });
});
