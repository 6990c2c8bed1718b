import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, waitForFile } from './executor-harness.js';
import { CLI, cli, tempDir, writePipeline } from './helpers.js';

let dir: string;
let plate: string;

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '2', '--sites', '1', '--channels', '1', '--z', '2', '--size', '48']).code).toBe(0);
});

async function tempFilesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.tmp')).map((e) => path.join(e.parentPath, e.name));
}

describe('Ctrl-C', () => {
  it('removes the temp files of the writes it interrupted before exiting 130', async () => {
    const announce = path.join(dir, 'announce');
    await mkdir(announce);
    const out = path.join(dir, 'out');
    const pipeline = await writePipeline(path.join(dir, 'litter.json'), {
      modules: [fixture('litter-and-wait.mjs')],
      steps: [{ name: 'write', func: [['litter_and_wait', { well: 'A01', dir: path.join(out, '1_write'), announce }]], variableComponents: ['z'], backend: 'disk' }],
    });
    const child = spawn(process.execPath, [CLI, 'run', plate, '-p', pipeline, '-o', out, '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitForFile(path.join(announce, 'A01.started'), 60_000);
    // The fixture's file, and maybe the other task's writes in flight.
    expect((await tempFilesUnder(out)).some((f) => path.basename(f).startsWith('.well-A01.tif.'))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(await tempFilesUnder(out)).toEqual([]);
  });
});
