/**
 * ImageXpress acquisition metadata: `.HTD` wavelength names as channel names, MetaXpress per-image
 * metadata from the TIFF ImageDescription (pixel size, wavelength, z step), and all of it carried
 * through a pipeline run into `plateflow_metadata.json` and the OME-Zarr output (scale, labels,
 * strict NGFF validity).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { parseMetaXpressDescription } from '../src/microscopes/metaxpress.js';
import { writeTiff } from '../src/storage/tiff-write.js';
import { cli, REPO, STANDARD, tempDir } from './helpers.js';

const root = await tempDir('plateflow-ixm-meta-');
const PYTHON = '/usr/bin/python3';
const hasJsonschema = spawnSync(PYTHON, ['-c', 'import jsonschema'], { encoding: 'utf8' }).status === 0;

const HTD = ['"HTSInfoFile", Version 1.0', '"XWells", 12', '"YWells", 8', '"Sites", FALSE', '"NWavelengths", 2', '"WaveName1", "DAPI"', '"WaveName2", "FITC"', ''].join('\r\n');

/** A MetaXpress ImageDescription as MetaXpress 6 writes it (abridged). */
function metaXpress(illum: string, wavelength: number, z: number, calibration = 0.65): string {
  return `<MetaData>
<prop id="Description" type="string" value="Exposure: 100 ms&#13;&#10;Binning: 1 x 1"/>
<prop id="MetaDataVersion" type="float" value="1"/>
<prop id="ApplicationName" type="string" value="MetaXpress"/>
<prop id="ApplicationVersion" type="string" value="6.5.3.427"/>
<PlaneInfo>
<prop id="camera-binning-x" type="int" value="1"/>
<prop id="pixel-size-x" type="int" value="32"/>
<prop id="spatial-calibration-x" type="float" value="${calibration}"/>
<prop id="spatial-calibration-y" type="float" value="${calibration}"/>
<prop id="spatial-calibration-units" type="string" value="um"/>
<prop id="image-name" type="string" value="${illum}"/>
<prop id="wavelength" type="float" value="${wavelength}"/>
<prop id="z-position" type="float" value="${z}"/>
<prop id="_IllumSetting_" type="string" value="${illum}"/>
</PlaneInfo>
<SetInfo><prop id="number-of-planes" type="int" value="1"/></SetInfo>
</MetaData>`;
}

async function plate(name: string, opts: { htd: boolean; descriptions: boolean }): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  if (opts.htd) await writeFile(path.join(dir, 'screen.HTD'), HTD, 'latin1');
  const waves = [
    ['DAPI', 452],
    ['FITC', 536],
  ] as const;
  for (const well of ['A01', 'A02']) {
    for (const [c, [illum, nm]] of waves.entries()) {
      for (const z of [1, 2, 3]) {
        const data = Uint16Array.from({ length: 32 * 32 }, (_, i) => ((i * (z + 3) + c * 97) % 700) + (i % 32 > 10 && i % 32 < 20 ? 3000 : 0));
        await writeTiff(path.join(dir, `screen_${well}_s1_w${c + 1}_z${z}.tif`), { dtype: 'uint16', shape: [1, 32, 32], data }, opts.descriptions ? { description: metaXpress(illum, nm, 8100 + 3.5 * (z - 1)) } : {});
      }
    }
  }
  clearComponentCache(dir);
  return dir;
}

describe('MetaXpress descriptions', () => {
  it('reads calibration, wavelength, illumination name and z position; other text is not MetaXpress', () => {
    expect(parseMetaXpressDescription(metaXpress('DAPI', 452, 8100.5))).toEqual({ pixelSize: { x: 0.65, y: 0.65 }, wavelength: 452, name: 'DAPI', zPosition: 8100.5 });
    expect(parseMetaXpressDescription(metaXpress('DAPI', 452, 1).replace('value="um"', 'value="pixel"'))).not.toHaveProperty('pixelSize');
    expect(parseMetaXpressDescription('ImageJ=1.54f\nimages=3')).toBeUndefined();
    expect(parseMetaXpressDescription('<MetaData><prop id="x"')).toBeUndefined();
  });
});

describe('ImageXpress acquisition metadata', () => {
  it('names channels from the HTD, and reads pixel size, wavelengths and z step from the TIFFs', async () => {
    const index = await discoverPlate(await plate('full', { htd: true, descriptions: true }));
    expect(index.acquisition).toEqual({
      source: 'screen.HTD, MetaXpress TIFF descriptions',
      channels: { '1': 'DAPI', '2': 'FITC' },
      wavelengths: { '1': 452, '2': 536 },
      pixelSize: { x: 0.65, y: 0.65, z: 3.5, unit: 'micrometer' },
    });
  });

  it('falls back to MetaXpress illumination names without an HTD, and to HTD names alone without descriptions', async () => {
    const noHtd = await discoverPlate(await plate('no-htd', { htd: false, descriptions: true }));
    expect(noHtd.acquisition?.channels).toEqual({ '1': 'DAPI', '2': 'FITC' });
    expect(noHtd.acquisition?.source).toBe('MetaXpress TIFF descriptions');
    const noTags = await discoverPlate(await plate('no-tags', { htd: true, descriptions: false }));
    expect(noTags.acquisition).toEqual({ source: 'screen.HTD', channels: { '1': 'DAPI', '2': 'FITC' } });
    const none = await discoverPlate(await plate('none', { htd: false, descriptions: false }));
    expect(none.acquisition).toBeUndefined();
  });

  it('carries channel names and pixel size through a pipeline run into plateflow_metadata.json and the OME-Zarr output', async () => {
    const source = await plate('run', { htd: true, descriptions: true });
    const out = path.join(root, 'run-out');
    const r = cli(['run', source, '-p', STANDARD, '-o', out, '--output-format', 'ome-zarr@0.4', '--json']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const meta = JSON.parse(await readFile(path.join(out, 'plateflow_metadata.json'), 'utf8')) as { subdirectories: Record<string, { acquisition?: unknown; backend: string }> };
    const [subdir, entry] = Object.entries(meta.subdirectories)[0]!;
    expect(entry.backend).toBe('zarr');
    expect(entry.acquisition).toMatchObject({ channels: { '1': 'DAPI', '2': 'FITC' }, pixelSize: { x: 0.65, y: 0.65, z: 3.5 } });
    const image = JSON.parse(await readFile(path.join(out, subdir, 'A', '1', '1', '.zattrs'), 'utf8')) as Record<string, any>;
    expect(image['omero']['channels'].map((c: { label: string }) => c.label)).toEqual(['DAPI', 'FITC']);
    expect(image['multiscales'][0]['datasets'][0]['coordinateTransformations'][0]['scale']).toEqual([1, 1, 3.5, 0.65, 0.65]);
    if (hasJsonschema) {
      const v = spawnSync(PYTHON, [path.join(REPO, 'test', 'fixtures', 'ngff', 'validate.py'), path.join(out, subdir)], { encoding: 'utf8' });
      expect(v.status).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ documents: { plate: 1, well: 2, image: 2 }, errors: [] });
    }
    // the output folder read back as a plate keeps the source's metadata
    clearComponentCache(out);
    const back = await discoverPlate(out);
    expect(back.acquisition?.channels).toEqual({ '1': 'DAPI', '2': 'FITC' });
    expect(back.acquisition?.pixelSize).toMatchObject({ x: 0.65, y: 0.65 });
  });
});
