/**
 * `plateflow_metadata.json` is merged by the coordinator from the entries task results carry
 * (tasks never take its lock), and checkpoint markers carry the same entries so a resumed run
 * restores whatever a killed run had not merged yet.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { MetadataWriter } from '../src/execution/metadata-writer.js';
import type { TaskResult } from '../src/execution/result.js';
import { runPlate } from '../src/run/run-plate.js';
import { runTask } from '../src/execution/run-task.js';
import { compile } from '../src/compiler/compile.js';
import { discoverPlate } from '../src/microscopes/discover.js';
import { METADATA_FILE, addMetadataFiles, readMetadata } from '../src/storage/metadata.js';
import type { PipelineDefinition } from '../src/pipeline/types.js';
import { synthesizePlate } from '../src/synth/plate.js';
import { fixture } from './executor-harness.js';
import { tempDir } from './helpers.js';

let dir: string;
let plateDir: string;

const twoDiskSteps: PipelineDefinition = {
  modules: [fixture('fail-on-well.mjs')],
  steps: [
    { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
    // Fails in well A02 only: its first step's files are on disk and must be on record too.
    { name: 'check', func: [['fail_on_well', { well: 'A02' }]], variableComponents: ['site'], backend: 'disk' },
  ],
};

beforeAll(async () => {
  dir = await tempDir('plateflow-metadata-');
  plateDir = path.join(dir, 'plate');
  await synthesizePlate(plateDir, { wells: 3, sites: 1, channels: 2, z: 2, size: 32, seed: 4 });
});

const metadataText = (out: string) => readFile(path.join(out, METADATA_FILE), 'utf8');

describe('metadata written by the coordinator', () => {
  it('records every file of the run, including the finished steps of a failed task', async () => {
    const out = path.join(dir, 'run');
    const run = await runPlate(plateDir, { pipeline: twoDiskSteps, out });
    expect([...run.outcome.results.values()].map((r) => r.status)).toEqual(['ok', 'error', 'ok']);
    const meta = (await readMetadata(out))!;
    expect(Object.keys(meta.subdirectories)).toEqual(['1_project', '2_check']);
    expect(Object.keys(meta.subdirectories['1_project']!.files)).toHaveLength(6); // 3 wells × 2 channels
    expect(meta.subdirectories['2_check']!.components.well).toEqual(['A01', 'A03']);
    expect(meta.subdirectories['2_check']!.main).toBe(true);
    // results.json stays free of the per-file entries
    expect(await readFile(path.join(out, 'results.json'), 'utf8')).not.toMatch(/"metadata"/);
  });

  it('a run whose metadata was lost (killed before the merge) gets it back from the checkpoint markers', async () => {
    const out = path.join(dir, 'lost');
    await runPlate(plateDir, { pipeline: twoDiskSteps, out });
    const before = await metadataText(out);
    await rm(path.join(out, METADATA_FILE));
    const again = await runPlate(plateDir, { pipeline: twoDiskSteps, out });
    // A02 fails again in its second step, but after resuming its first from the marker.
    expect([...again.outcome.results.values()].map((r) => [r.status, r.resumed])).toEqual([['ok', 'task'], ['error', 'project'], ['ok', 'task']]);
    expect(await metadataText(out)).toBe(before);
  });

  it('runTask alone writes no metadata but returns the entries, which addMetadataFiles merges', async () => {
    const out = path.join(dir, 'alone');
    const plate = await discoverPlate(plateDir);
    const compiled = await compile({ steps: [twoDiskSteps.steps[0]!] }, plate, { out });
    const results = await Promise.all([...compiled.tasks.values()].map((plan) => runTask(plan)));
    await expect(readFile(path.join(out, METADATA_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    const entries = results.flatMap((r) => r.metadata ?? []);
    expect(entries.map((e) => e.subdir)).toEqual(['1_project', '1_project', '1_project']);
    await addMetadataFiles(out, entries);
    const meta = (await readMetadata(out))!;
    expect(Object.keys(meta.subdirectories['1_project']!.files).sort()).toEqual(results.flatMap((r) => r.outputs.map((o) => path.posix.basename(o))).sort());
  });
});

describe('MetadataWriter', () => {
  const result = (subdir: string, file: string, well: string): TaskResult => ({
    taskId: well,
    axis: { well },
    status: 'ok',
    seconds: 0,
    images: 1,
    outputs: [],
    measurements: [],
    metadata: [{ subdir, base: { handler: 'plateflow', sourceFormat: 'test', backend: 'disk', main: true, grid: null }, files: { [file]: { well } } }],
  });

  it('merges while the run goes on, every interval, and once more at close', async () => {
    const out = path.join(dir, 'writer');
    const writer = new MetadataWriter(out, 30);
    writer.add(result('steps', 'well-A01.tif', 'A01'));
    await new Promise((r) => setTimeout(r, 150));
    expect(Object.keys((await readMetadata(out))!.subdirectories['steps']!.files)).toEqual(['well-A01.tif']);
    const second = result('steps', 'well-A02.tif', 'A02');
    writer.add(second);
    writer.add(second); // the same result twice is merged once
    await writer.close();
    expect((await readMetadata(out))!.subdirectories['steps']!.components.well).toEqual(['A01', 'A02']);
  });

  it('keeps entries it could not write and reports the failure at close', async () => {
    const out = path.join(dir, 'blocked');
    // A directory where the file should go: the atomic rename fails (also for root).
    await mkdir(path.join(out, METADATA_FILE, 'in-the-way'), { recursive: true });
    const writer = new MetadataWriter(out, 60_000);
    writer.add(result('steps', 'well-A01.tif', 'A01'));
    await expect(writer.close()).rejects.toBeInstanceOf(StorageError);
    await rm(path.join(out, METADATA_FILE), { recursive: true });
    await writer.flush();
    expect(Object.keys((await readMetadata(out))!.subdirectories['steps']!.files)).toEqual(['well-A01.tif']);
  });

  it('a sub-directory name that escapes the output folder is refused', async () => {
    const writer = new MetadataWriter(path.join(dir, 'escape'), 60_000);
    writer.add(result('../outside', 'x.tif', 'A01'));
    await expect(writer.close()).rejects.toMatchObject({ code: 'E_PATH_UNSAFE' });
  });
});
