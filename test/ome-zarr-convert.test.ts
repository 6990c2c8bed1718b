import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStack } from '../src/image.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { outputFileName } from '../src/storage/output-naming.js';
import type { PlateIndex } from '../src/microscopes/types.js';
import { convertPlate, type ConvertProgress } from '../src/ome-zarr/convert.js';
import { planeReader } from '../src/ome-zarr/source-planes.js';
import { writeTiff } from '../src/storage/tiff-write.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { ARRAYSCAN, CLI, cli, lastJsonLine, tempDir } from './helpers.js';

const root = await tempDir('plateflow-zarr-convert-');
const synth = path.join(root, 'synth');
await synthesizePlate(synth, { wells: 3, sites: 2, channels: 2, z: 2, size: 48, seed: 7 });

const key = (c: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(c).sort());

/** Every source image must be in the converted plate, with the same components and the same pixels. */
async function expectSamePixels(source: PlateIndex, converted: PlateIndex): Promise<void> {
  expect(converted.format).toBe('OME-Zarr');
  expect(converted.components).toEqual(source.components);
  const byComponents = new Map(converted.images.map((r) => [key(r.components), r]));
  const src = planeReader(source);
  const dst = planeReader(converted);
  for (const r of source.images) {
    const match = byComponents.get(key(r.components));
    expect(match, `${r.path} is missing from the converted plate`).toBeDefined();
    const [a, b] = await Promise.all([src.read(r), dst.read(match!)]);
    expect(b.dtype).toBe(a.dtype);
    expect(b.shape).toEqual(a.shape);
    expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)), r.path).toBe(true);
  }
  await Promise.all([src.close(), dst.close()]);
}

describe.each(['0.4', '0.5'] as const)('convert → NGFF %s → read back', (ngff) => {
  it('synthetic ImageXpress plate: identical pixels and components, progress for every plane', async () => {
    clearComponentCache();
    const source = await discoverPlate(synth);
    const out = path.join(root, `synth-${ngff}.zarr`);
    const progress: ConvertProgress[] = [];
    const result = await convertPlate(source, out, { ngff, concurrency: 3, onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({ sourceFormat: 'ImageXpress', ngff, positions: 6, planes: 24, missing: 0 });
    expect(progress.map((p) => p.done)).toEqual([...Array(24).keys()].map((i) => i + 1));
    expect(progress.every((p) => p.total === 24)).toBe(true);
    await expectSamePixels(source, await discoverPlate(out));
  });

  it.skipIf(!existsSync(ARRAYSCAN))('real ArrayScan sample (BBBC016): identical pixels', async () => {
    clearComponentCache();
    const source = await discoverPlate(ARRAYSCAN);
    const out = path.join(root, `arrayscan-${ngff}.zarr`);
    const result = await convertPlate(ARRAYSCAN, out, { ngff });
    expect(result).toMatchObject({ sourceFormat: 'ArrayScan', positions: 72, planes: 72 });
    await expectSamePixels(source, await discoverPlate(out));
  });
});

it('plateflow TIFF output folder (and an OME-Zarr plate) convert too', async () => {
  const folder = path.join(root, 'pf-output');
  await mkdir(folder, { recursive: true });
  const order = ['well', 'site', 'channel', 'z', 'timepoint'];
  for (const [i, well] of ['A01', 'B02'].entries()) {
    for (const channel of ['1', '2']) {
      const stack = createStack('float32', 1, 5, 7);
      stack.data.forEach((_, j) => (stack.data[j] = i * 100 + Number(channel) * 10 + j / 4));
      await writeTiff(path.join(folder, outputFileName({ well, site: '1', channel, z: '1', timepoint: '1' }, order)), stack);
    }
  }
  clearComponentCache();
  const source = await discoverPlate(folder);
  expect(source.format).toBe('plateflow');
  const out = path.join(root, 'pf-output.zarr');
  await convertPlate(source, out, { ngff: '0.5' });
  const converted = await discoverPlate(out);
  await expectSamePixels(source, converted);

  // OME-Zarr 0.5 → 0.4: still the same pixels and components.
  const again = path.join(root, 'pf-output-04.zarr');
  await convertPlate(out, again, { ngff: '0.4' });
  await expectSamePixels(source, await discoverPlate(again));
});

it('refuses to overwrite or to write inside the source, unless asked', async () => {
  const out = path.join(root, 'synth-0.4.zarr');
  await expect(convertPlate(synth, out)).rejects.toMatchObject({ code: 'E_CONFIG_INVALID', message: expect.stringMatching(/already exists/) });
  await expect(convertPlate(synth, path.join(synth, 'inside.zarr'))).rejects.toMatchObject({ code: 'E_CONFIG_INVALID', message: expect.stringMatching(/inside the source/) });
});

describe.skipIf(!existsSync(CLI))('plateflow convert (CLI)', () => {
  it('converts, prints JSON, and exits 2 when the output exists', () => {
    const out = path.join(root, 'cli.zarr');
    const r = cli(['convert', synth, out, '--ngff', '0.5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout)).toMatchObject({ ngff: '0.5', positions: 6, planes: 24, sourceFormat: 'ImageXpress' });
    const again = cli(['convert', synth, out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/E_CONFIG_INVALID.*already exists/);
    expect(cli(['convert', synth, out, '--ngff', '0.6']).code).toBe(2);
  });
});
