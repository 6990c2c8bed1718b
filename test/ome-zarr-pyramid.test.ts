/**
 * OME-Zarr by the book: pyramids of 2×2 means, physical scale and channel names from the source's
 * metadata, every document valid against the official NGFF 0.4 / 0.5 schemas (strict included,
 * checked by Python `jsonschema` against test/fixtures/ngff), levels readable by zarr-python, and
 * plateflow still reading level 0.
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { convertPlate } from '../src/ome-zarr/convert.js';
import { downsample2x, levelCount, levelShape } from '../src/ome-zarr/pyramid.js';
import { ZarrArray } from '../src/storage/zarr-array.js';
import { writeTiff } from '../src/storage/tiff-write.js';
import { cli, lastJsonLine, REPO, tempDir } from './helpers.js';
import { GRID, indexXml, phenixPlate, url } from './phenix-fixture.js';

const PYTHON = '/usr/bin/python3';
const VALIDATE = path.join(REPO, 'test', 'fixtures', 'ngff', 'validate.py');
const hasJsonschema = spawnSync(PYTHON, ['-c', 'import jsonschema'], { encoding: 'utf8' }).status === 0;
const hasZarr = spawnSync(PYTHON, ['-c', 'import zarr, numpy'], { encoding: 'utf8' }).status === 0;
if (!hasJsonschema) console.warn('skipping NGFF schema validation: /usr/bin/python3 cannot import jsonschema (apt install python3-jsonschema)');
if (!hasZarr) console.warn('skipping zarr-python reads: /usr/bin/python3 cannot import zarr (apt install python3-zarr)');

const root = await tempDir('plateflow-pyramid-');

interface Validation {
  version: string;
  documents: Record<string, number>;
  errors: { document: string; schema: string; message: string }[];
}

function validate(plate: string): Validation {
  const r = spawnSync(PYTHON, [VALIDATE, plate], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`validate.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Validation;
}

function python(code: string, ...args: string[]): unknown {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('2×2 mean levels', () => {
  it('averages blocks, rounding integers and averaging what exists at odd edges', () => {
    const plane = Uint16Array.from([1, 2, 3, 10, 20, 30, 100, 200, 300]); // 3×3
    expect([...downsample2x(plane, 3, 3)]).toEqual([Math.round(33 / 4), Math.round(33 / 2), 150, 300]);
    expect([...downsample2x(Float32Array.from([1, 2, 3, 4]), 2, 2)]).toEqual([2.5]);
  });

  it('keeps a constant plane constant, and every mean within the block range (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 81, maxLength: 81 }), (h, w, values) => {
        const plane = Uint16Array.from(values.slice(0, h * w));
        const out = downsample2x(plane, h, w);
        const [oh, ow] = levelShape(h, w, 1);
        expect(out.length).toBe(oh * ow);
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            const block = [plane[2 * i * w + 2 * j]!];
            if (2 * j + 1 < w) block.push(plane[2 * i * w + 2 * j + 1]!);
            if (2 * i + 1 < h) block.push(plane[(2 * i + 1) * w + 2 * j]!, ...(2 * j + 1 < w ? [plane[(2 * i + 1) * w + 2 * j + 1]!] : []));
            expect(out[i * ow + j]).toBeGreaterThanOrEqual(Math.min(...block));
            expect(out[i * ow + j]).toBeLessThanOrEqual(Math.max(...block));
          }
        }
        expect([...downsample2x(new Uint16Array(h * w).fill(values[0]!), h, w)].every((v) => v === values[0])).toBe(true);
      }),
    );
  });

  it('defaults to enough levels to get below 1024 pixels, and honours --levels up to a 1-pixel level', () => {
    expect(levelCount(512, 512)).toBe(1);
    expect(levelCount(1023, 100)).toBe(1);
    expect(levelCount(1024, 100)).toBe(2);
    expect(levelCount(2048, 2048)).toBe(3);
    expect(levelCount(2160, 2560)).toBe(3);
    expect(levelCount(64, 64, 4)).toBe(4);
    expect(levelCount(4, 4, 10)).toBe(3);
    expect(() => levelCount(4, 4, 0)).toThrow(RangeError);
  });
});

describe('converting an Opera Phenix plate', () => {
  for (const ngff of ['0.4', '0.5'] as const) {
    it(`NGFF ${ngff}: channel names, pixel size, positions and levels, valid against the strict schemas`, async () => {
      const source = await phenixPlate(root, `phenix-${ngff}`, GRID, indexXml(GRID));
      const out = path.join(root, `phenix-${ngff}.zarr`);
      const result = await convertPlate(source, out, { ngff, levels: 3 });
      expect(result).toMatchObject({ levels: 3, pixelSize: { x: 0.299, y: 0.299, z: 2, unit: 'micrometer' }, planes: GRID.length, missing: 0 });

      const doc = JSON.parse(await readFile(path.join(out, 'B', '3', '1', ngff === '0.4' ? '.zattrs' : 'zarr.json'), 'utf8')) as Record<string, any>;
      const ns = ngff === '0.4' ? doc : doc['attributes']['ome'];
      const ms = ns['multiscales'][0];
      expect(ms['axes'].map((a: { unit?: string }) => a.unit)).toEqual([undefined, undefined, 'micrometer', 'micrometer', 'micrometer']);
      expect(ms['datasets'].map((d: { path: string }) => d.path)).toEqual(['0', '1', '2']);
      // field 2 of the fixture sits at x = 650 µm, y = -100 µm, first plane at z = -4 µm
      expect(ms['datasets'][0]['coordinateTransformations']).toEqual([
        { type: 'scale', scale: [1, 1, 2, 0.299, 0.299] },
        { type: 'translation', translation: [0, 0, -4, -100, 650] },
      ]);
      expect(ms['datasets'][2]['coordinateTransformations'][0]).toEqual({ type: 'scale', scale: [1, 1, 2, 1.196, 1.196] });
      expect(ns['omero']['channels'].map((c: { label: string }) => c.label)).toEqual(['HOECHST 33342', 'Alexa 488 – tubulin']);

      if (hasJsonschema) {
        const v = validate(out);
        expect(v.documents).toEqual({ plate: 1, well: 1, image: 2 });
        expect(v.errors).toEqual([]);
      }

      // plateflow reads level 0 back, with the source's components and its metadata
      clearComponentCache(out);
      const back = await discoverPlate(out);
      expect(back.images).toHaveLength(GRID.length);
      expect(back.images.every((r) => r.path.endsWith('/0'))).toBe(true);
      expect(back.acquisition?.channels).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488 – tubulin' });
      expect(back.acquisition?.pixelSize).toEqual({ x: 0.299, y: 0.299, z: 2, unit: 'micrometer' });
      const level0 = await ZarrArray.open(path.join(out, 'B', '3', '1', '0'));
      const level1 = await ZarrArray.open(path.join(out, 'B', '3', '1', '1'));
      expect(level1.shape).toEqual([2, 2, 3, 6, 8]);
      const plane = await level0.readPlane([1, 0, 2]);
      expect([...(await level1.readPlane([1, 0, 2]))]).toEqual([...downsample2x(plane, 12, 16)]);

      // Debian's zarr-python 2 reads zarr v2 only; NGFF 0.5 levels are read back by plateflow above.
      if (hasZarr && ngff === '0.4') {
        const read = python(
          `import json, sys, zarr, numpy as np
g = zarr.open_group(sys.argv[1], mode='r')
img = g['B/3/1']
shapes = [list(img[str(l)].shape) for l in range(3)]
a0 = img['0'][:].astype(np.float64)
a1 = img['1'][:]
mean = a0.reshape(2, 2, 3, 6, 2, 8, 2).mean(axis=(4, 6))
labels = [c['label'] for c in img.attrs['omero']['channels']]
print(json.dumps({'shapes': shapes, 'level1_ok': bool((np.floor(mean + 0.5) == a1).all()), 'labels': labels}))`,
          out,
        );
        // zarr-python 2 decodes attributes as ASCII: the non-ASCII channel name must arrive escaped
        expect(read).toEqual({ shapes: [[2, 2, 3, 12, 16], [2, 2, 3, 6, 8], [2, 2, 3, 3, 4]], level1_ok: true, labels: ['HOECHST 33342', 'Alexa 488 – tubulin'] });
      }
    });
  }

  it('the validator bites: a multiscale without type and metadata fails the strict schema only', async () => {
    if (!hasJsonschema) return;
    const source = await phenixPlate(root, 'phenix-bites', GRID.slice(0, 2), indexXml(GRID.slice(0, 2)));
    const out = path.join(root, 'phenix-bites.zarr');
    await convertPlate(source, out, { ngff: '0.4' });
    const file = path.join(out, 'B', '3', '0', '.zattrs');
    const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
    delete doc['multiscales'][0]['type'];
    delete doc['multiscales'][0]['metadata'];
    await writeFile(file, JSON.stringify(doc));
    const v = validate(out);
    expect(v.errors.length).toBeGreaterThan(0);
    expect(new Set(v.errors.map((e) => `${e.document} ${e.schema}`))).toEqual(new Set(['B/3/0 strict_image']));
    expect(v.errors.map((e) => e.message).join('\n')).toMatch(/'type' is a required property/);
  });
});

describe('convert and inspect from the command line', () => {
  it('writes default levels below 1024 px, and inspect shows the converted plate\'s names and scale', async () => {
    const entries = [1, 2].map((channel) => ({ row: 2, col: 3, field: 1, plane: 1, timepoint: 0, channel }));
    const source = await phenixPlate(root, 'cli', entries, indexXml(entries), []);
    for (const entry of entries) {
      await writeTiff(path.join(source, 'Images', url(entry)), { dtype: 'uint8', shape: [1, 8, 1100], data: new Uint8Array(8 * 1100).fill(entry.channel * 10) });
    }
    clearComponentCache(source);
    const out = path.join(root, 'cli.zarr');
    const r = cli(['convert', source, out, '--ngff', '0.5', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ levels: 2, pixelSize: { x: 0.299, y: 0.299 } });
    const shown = lastJsonLine(cli(['inspect', out, '--json']).stdout);
    expect(shown['format']).toBe('OME-Zarr');
    expect(shown['channels']).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488 – tubulin' });
    expect(shown['pixelSize']).toMatchObject({ x: 0.299, y: 0.299, unit: 'micrometer' });
    const bad = cli(['convert', source, path.join(root, 'bad.zarr'), '--levels', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--levels/);
  });
});
