import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DiscoveryError } from '../src/errors.js';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

/**
 * An `--out` inside the plate folder: the rerun must not read the outputs as input images (they
 * follow plateflow's naming, not the plate's, so strict discovery failed with E_UNMATCHED_FILES).
 */

const dir = await tempDir('plateflow-output-folders-');
beforeEach(() => clearComponentCache());

let counter = 0;
async function folder(files: readonly string[], contents: Record<string, string> = {}): Promise<string> {
  const root = path.join(dir, `plate${++counter}`);
  for (const f of files) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), contents[f] ?? '');
  }
  await mkdir(root, { recursive: true });
  return root;
}

const OURS = 'well-A01_site-1_channel-1.tif';
const metadata = JSON.stringify({
  format: 'plateflow',
  version: 1,
  subdirectories: { '1_blur': { handler: 'plateflow', sourceFormat: 'ImageXpress', backend: 'disk', main: true, grid: null, components: {}, files: { [OURS]: { well: 'A01' } } } },
});

describe('discovery skips plateflow output folders inside the plate', () => {
  it('by what plateflow writes there (checkpoints, metadata), at any depth, and reports each', async () => {
    const root = await folder([
      'Plate1_A01_s1_w1.tif',
      'Plate1_A02_s1_w1.tif',
      `out/plateflow_metadata.json`,
      `out/1_blur/${OURS}`,
      // a run killed after its first step: checkpoints, no metadata yet
      `runs/monday/.plateflow/tasks/A01.json`,
      `runs/monday/1_blur/${OURS}`,
      `runs/Plate1_A03_s1_w1.tif`,
    ]);
    const index = await discoverPlate(root);
    expect(index.format).toBe('ImageXpress');
    expect(index.images.map((r) => r.path)).toEqual(['Plate1_A01_s1_w1.tif', 'Plate1_A02_s1_w1.tif', 'runs/Plate1_A03_s1_w1.tif']);
    expect(index.skipped).toEqual([
      { path: 'out', reason: 'a plateflow output folder (it holds plateflow_metadata.json): not read as input' },
      { path: 'runs/monday', reason: 'a plateflow output folder (it holds .plateflow): not read as input' },
    ]);
  });

  it('still reads a plate that is itself an output folder, skipping output folders inside it', async () => {
    const root = await folder(['plateflow_metadata.json', '.plateflow/tasks/A01.json', `1_blur/${OURS}`, 'again/plateflow_metadata.json', `again/1_blur/${OURS}`], {
      'plateflow_metadata.json': metadata,
      'again/plateflow_metadata.json': metadata,
    });
    const index = await discoverPlate(root);
    expect(index.format).toBe('plateflow');
    expect(index.images.map((r) => r.path)).toEqual([`1_blur/${OURS}`]);
    expect(index.skipped.map((s) => s.path)).toEqual(['again']);
  });

  it('says so when the only images are in an output folder', async () => {
    const root = await folder(['out/plateflow_metadata.json', `out/1_blur/${OURS}`]);
    const err = await discoverPlate(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as DiscoveryError).code).toBe('E_DISCOVERY_EMPTY');
    expect((err as DiscoveryError).message).toContain('plateflow output folders are not read as input: out (to read one, point plateflow at it)');
  });
});

describe('a rerun with --out inside the plate folder', () => {
  it('succeeds and reads nothing from its own output', async () => {
    const plate = path.join(dir, 'synth');
    expect(cli(['synth', plate, '--wells', '2', '--sites', '1', '--channels', '1', '--z', '2', '--size', '64']).code).toBe(0);
    const pipeline = path.join(dir, 'pipeline.json');
    await writeFile(
      pipeline,
      JSON.stringify({
        steps: [
          { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
          { name: 'count', func: ['otsu_threshold', 'label', 'count_objects'], backend: 'memory' },
        ],
      }),
    );
    const images = (lastJsonLine(cli(['inspect', plate, '--json']).stdout) as { images: number }).images;
    const out = path.join(plate, 'out');
    const first = cli(['run', plate, '-p', pipeline, '-o', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const second = cli(['run', plate, '-p', pipeline, '-o', out, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(lastJsonLine(second.stdout).measurements).toEqual(lastJsonLine(first.stdout).measurements);
    const doc = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as { plate: { skipped: { path: string }[] }; tasks: Record<string, { status: string }> };
    expect(doc.plate.skipped.map((s) => s.path)).toEqual(['out']);
    expect(Object.values(doc.tasks).map((t) => t.status)).toEqual(['ok', 'ok']);
    // The plate as discovery sees it is the same as before the output folder existed.
    expect((lastJsonLine(cli(['inspect', plate, '--json']).stdout) as { images: number }).images).toBe(images);
  });
});
