import { execFileSync, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { readTiff } from '../src/storage/tiff-read.js';
import { cli, lastJsonLine, STANDARD, tempDir, writePipeline } from './helpers.js';

/**
 * Colour TIFFs through discovery and a whole run: each sample is a channel (`1-r`, `1-g`, `1-b` or,
 * on plates whose names carry no channel, `1`, `2`, `3`), per-channel maps and filters work on
 * those names, and `--color luminance` reads each colour file as one BT.601 plane instead.
 * Plates are written by Debian's tifffile, the way a colour camera's software would write them.
 */

const PYTHON = '/usr/bin/python3';
const hasTifffile = spawnSync(PYTHON, ['-c', 'import tifffile, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasTifffile) console.warn(`skipping colour discovery tests: ${PYTHON} with numpy and tifffile is not available`);

/**
 * ImageXpress plate `ix/`: wells A01, A02, 2 z-planes; w1 RGB uint8 (planar for A02), w2 gray
 * uint16. Pattern plate `nochan/`: `<well>_s<site>.tif`, RGBA uint8. Each sample holds blobs on a
 * dark background, so thresholding finds objects. Prints nothing.
 */
const MAKE_PLATES = `
import os, sys
import numpy as np, tifffile
root = sys.argv[1]
rng = np.random.default_rng(5)
yy, xx = np.mgrid[0:64, 0:80]
def blobs(n, seed):
    r = np.random.default_rng(seed)
    img = np.zeros((64, 80))
    for _ in range(n):
        cy, cx = r.integers(8, 56), r.integers(8, 72)
        img += 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
    return np.clip(img + r.integers(0, 10, img.shape), 0, 255).astype(np.uint8)
os.makedirs(os.path.join(root, 'ix'))
for w, well in enumerate(['A01', 'A02']):
    for z in (1, 2):
        rgb = np.stack([blobs(3 + k, 100 * w + 10 * z + k) for k in range(3)], axis=-1)
        name = os.path.join(root, 'ix', f'plate_{well}_s1_w1_z{z}.tif')
        if well == 'A02':
            tifffile.imwrite(name, np.moveaxis(rgb, -1, 0), photometric='rgb', planarconfig='separate', compression='zlib')
        else:
            tifffile.imwrite(name, rgb, photometric='rgb')
        tifffile.imwrite(os.path.join(root, 'ix', f'plate_{well}_s1_w2_z{z}.tif'), (blobs(4, 7 + w + z).astype(np.uint16) * 100), photometric='minisblack')
os.makedirs(os.path.join(root, 'nochan'))
for well in ('B02', 'B03'):
    rgba = np.stack([blobs(2, k) for k in range(4)], axis=-1)
    tifffile.imwrite(os.path.join(root, 'nochan', f'{well}_s1.tif'), rgba, photometric='rgb', extrasamples=['unassalpha'])
`;

let dir: string;
beforeAll(async () => {
  if (!hasTifffile) return;
  dir = await tempDir('plateflow-color-');
  execFileSync(PYTHON, ['-c', MAKE_PLATES, dir]);
  clearComponentCache();
});

describe.skipIf(!hasTifffile)('colour TIFFs in discovery', () => {
  it('each sample of an RGB channel is a channel <c>-r/-g/-b with its sample index; gray channels stay', async () => {
    const plate = await discoverPlate(path.join(dir, 'ix'));
    expect(plate.format).toBe('ImageXpress');
    expect(plate.components['channel']).toEqual(['1-b', '1-g', '1-r', '2']);
    const a01z1 = plate.images.filter((r) => r.components['well'] === 'A01' && r.components['z'] === '1');
    expect(a01z1.map((r) => [r.components['channel'], r.path, r.sample])).toEqual([
      ['1-b', 'plate_A01_s1_w1_z1.tif', 2],
      ['1-g', 'plate_A01_s1_w1_z1.tif', 1],
      ['1-r', 'plate_A01_s1_w1_z1.tif', 0],
      ['2', 'plate_A01_s1_w2_z1.tif', undefined],
    ]);
    expect(Object.isFrozen(a01z1[0])).toBe(true);
  });

  it('a plate whose names carry no channel gets channels 1..4 (RGBA)', async () => {
    const plate = await discoverPlate(path.join(dir, 'nochan'), { pattern: '{well}_s{site}.tif' });
    expect(plate.components['channel']).toEqual(['1', '2', '3', '4']);
    expect(plate.images.filter((r) => r.components['well'] === 'B02').map((r) => r.sample)).toEqual([0, 1, 2, 3]);
  });

  it('color: luminance keeps one record per file, marked for the luminance read', async () => {
    const plate = await discoverPlate(path.join(dir, 'ix'), { color: 'luminance' });
    expect(plate.components['channel']).toEqual(['1', '2']);
    const rgb = plate.images.filter((r) => r.components['channel'] === '1');
    expect(rgb.every((r) => r.sample === 'luminance')).toBe(true);
    expect(plate.images.filter((r) => r.components['channel'] === '2').every((r) => r.sample === undefined)).toBe(true);
  });

  it('filters on sample channels work', async () => {
    const plate = await discoverPlate(path.join(dir, 'ix'), { filters: { channel: ['1-g'] } });
    expect(plate.images).toHaveLength(4);
    expect(new Set(plate.images.map((r) => r.sample))).toEqual(new Set([1]));
  });

  it('inspect --json and --color luminance from the CLI', () => {
    const split = cli(['inspect', path.join(dir, 'ix'), '--json']);
    expect(split.code, split.stderr).toBe(0);
    expect((lastJsonLine(split.stdout).components as Record<string, string[]>)['channel']).toEqual(['1-b', '1-g', '1-r', '2']);
    const luma = cli(['inspect', path.join(dir, 'ix'), '--json', '--color', 'luminance']);
    expect(luma.code, luma.stderr).toBe(0);
    expect((lastJsonLine(luma.stdout).components as Record<string, string[]>)['channel']).toEqual(['1', '2']);
    const bad = cli(['inspect', path.join(dir, 'ix'), '--color', 'sepia']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--color.*sepia|sepia.*channels, luminance/);
  });
});

describe.skipIf(!hasTifffile)('a colour plate through a run', () => {
  it('the standard pipeline projects every sample channel, and a per-channel map keys on them', async () => {
    const out = path.join(dir, 'out-standard');
    const r = cli(['run', path.join(dir, 'ix'), '--pipeline', STANDARD, '--out', out, '--executor', 'serial', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 2, ok: 2, failed: 0, images: 16 });
    const projections = (await readdir(path.join(out, '1_max_project_z'))).sort();
    expect(projections).toEqual(['A01', 'A02'].flatMap((w) => ['1-b', '1-g', '1-r', '2'].map((c) => `well-${w}_site-1_channel-${c}.tif`)));
    // A projected sample is the maximum over z of that sample, read straight from the colour files.
    const green = await readTiff(path.join(out, '1_max_project_z', 'well-A02_site-1_channel-1-g.tif'));
    const [z1, z2] = await Promise.all([1, 2].map((z) => readTiff(path.join(dir, 'ix', `plate_A02_s1_w1_z${z}.tif`), { sample: 1 })));
    expect(green.dtype).toBe('uint8');
    expect(Array.from(green.data)).toEqual(Array.from(z1!.data, (v, i) => Math.max(v, z2!.data[i]!)));

    const pipeline = await writePipeline(path.join(dir, 'per-channel.json'), {
      name: 'per-channel',
      axis: 'well',
      steps: [
        { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
        {
          name: 'measure',
          variableComponents: ['site'],
          groupBy: 'channel',
          func: { '1-r': ['otsu_threshold', { bins: 256 }], '1-g': ['image_stats', {}], '1-b': ['image_stats', {}] },
          backend: 'memory',
        },
      ],
    });
    const mapped = cli(['run', path.join(dir, 'ix'), '--pipeline', pipeline, '--out', path.join(dir, 'out-map'), '--executor', 'serial', '--json']);
    expect(mapped.code, mapped.stderr).toBe(0);
    const measurements = lastJsonLine(mapped.stdout).measurements as Record<string, Record<string, number>>;
    expect(measurements['well-A01_site-1_channel-1-r']).toHaveProperty('otsu_threshold');
    expect(measurements['well-A01_site-1_channel-1-g']).toHaveProperty('mean');
    expect(measurements['well-A02_site-1_channel-1-b']).toHaveProperty('max');
  });

  it('--color luminance runs one float32 plane per colour file', async () => {
    const out = path.join(dir, 'out-luma');
    const r = cli(['run', path.join(dir, 'ix'), '--pipeline', STANDARD, '--out', out, '--executor', 'serial', '--color', 'luminance', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 2, ok: 2, images: 8 });
    const luma = await readTiff(path.join(out, '1_max_project_z', 'well-A01_site-1_channel-1.tif'));
    expect(luma.dtype).toBe('float32');
    const planes = await Promise.all([1, 2].map((z) => readTiff(path.join(dir, 'ix', `plate_A01_s1_w1_z${z}.tif`), { sample: 'luminance' })));
    expect(Array.from(luma.data)).toEqual(Array.from(planes[0]!.data, (v, i) => Math.max(v, planes[1]!.data[i]!)));
  });
});
