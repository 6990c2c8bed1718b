import { mkdir, readdir, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, STANDARD, cli, lastJsonLine, tempDir } from './helpers.js';

let dir: string;
let plate: string;

async function pipelineFile(name: string, body: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(body));
  return file;
}

/** Every file under `root`, relative, to prove no temp or partial file was left behind. */
async function allFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else out.push(path.relative(root, path.join(d, e.name)));
    }
  };
  await walk(root);
  return out;
}

beforeAll(async () => {
  dir = await tempDir();
  plate = path.join(dir, 'plate');
  expect(cli(['synth', plate, '--wells', '2', '--sites', '1', '--channels', '2', '--z', '2', '--size', '48']).code).toBe(0);
});

describe('bad input gets a clear error, a non-zero exit, and no half-written output', () => {
  it('empty plate folder', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const r = cli(['inspect', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_DISCOVERY_EMPTY\].*empty/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('missing plate folder', () => {
    const r = cli(['inspect', path.join(dir, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_PLATE_NOT_FOUND\].*nope/);
  });

  it('unknown format lists why each format was rejected', async () => {
    const odd = path.join(dir, 'odd');
    await mkdir(odd);
    await writeFile(path.join(odd, 'holiday-photo.tif'), 'x');
    const r = cli(['inspect', odd]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_FORMAT_UNKNOWN\]/);
    for (const name of ['ImageXpress', 'OperaPhenix', 'ArrayScan']) expect(r.stderr).toContain(name);
  });

  it('unmatched image files: strict fails listing them, lenient skips and reports', async () => {
    const mixed = path.join(dir, 'mixed');
    await mkdir(path.join(mixed, 'TimePoint_1', 'ZStep_1'), { recursive: true });
    await copyFile(path.join(plate, 'TimePoint_1', 'ZStep_1', 'A01_s1_w1.tif'), path.join(mixed, 'TimePoint_1', 'ZStep_1', 'A01_s1_w1.tif'));
    await writeFile(path.join(mixed, 'TimePoint_1', 'ZStep_1', 'notes-scan.tif'), 'x');
    const strict = cli(['inspect', mixed]);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/\[E_UNMATCHED_FILES\].*1 .*notes-scan\.tif/s);
    const lenient = cli(['inspect', mixed, '--lenient', '--json']);
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lastJsonLine(lenient.stdout).skipped).toEqual([expect.objectContaining({ path: 'TimePoint_1/ZStep_1/notes-scan.tif' })]);
  });

  it('a truncated TIFF fails only its own task, naming the file', async () => {
    const broken = path.join(dir, 'broken-plate');
    expect(cli(['synth', broken, '--wells', '3', '--sites', '1', '--channels', '1', '--z', '1', '--size', '48']).code).toBe(0);
    const victim = path.join(broken, 'TimePoint_1', 'ZStep_1', 'A02_s1_w1.tif');
    const { readFile } = await import('node:fs/promises');
    await writeFile(victim, (await readFile(victim)).subarray(0, 300));
    const out = path.join(dir, 'broken-out');
    const r = cli(['run', broken, '--pipeline', STANDARD, '--out', out, '--json']);
    expect(r.code).toBe(1);
    const summary = lastJsonLine(r.stdout);
    expect(summary).toMatchObject({ tasks: 3, ok: 2, failed: 1 });
    const results = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(out, 'results.json'), 'utf8'));
    expect(results.tasks.A02.status).toBe('error');
    expect(results.tasks.A02.error.message).toMatch(/A02_s1_w1\.tif: truncated/);
    expect((await allFiles(out)).filter((f) => /tmp|partial/i.test(f))).toEqual([]);
  });

  it('pipeline with an unknown function, bad kwargs, or a group that does not exist', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['unknown-fn.json', { steps: [{ func: 'max_projection', variableComponents: ['z'] }, { func: 'blurr' }] }, /\[E_FUNCTION_UNKNOWN\] steps\[1\]\.func: unknown function "blurr"/],
      ['bad-kwargs.json', { steps: [{ func: ['gaussian_blur', { sigma: 'wide' }] }] }, /\[E_KWARGS_INVALID\] steps\[0\]\.func\.kwargs\.sigma: bad kwargs for "gaussian_blur"/],
      ['extra-kwarg.json', { steps: [{ func: ['gaussian_blur', { sigma: 2, radius: 3 }] }] }, /\[E_KWARGS_INVALID\] steps\[0\]\.func\.kwargs.*radius/],
      ['bad-group.json', { steps: [{ func: { '7': 'image_stats' } }] }, /\[E_GROUP_UNKNOWN\] steps\[0\]\.func\.7: group "7" does not exist; channel values in this plate are "1", "2"/],
      ['bad-shape.json', { steps: [{ fun: 'max_projection' }] }, /\[E_PIPELINE_INVALID\] bad-shape\.json: steps\[0\]/],
    ];
    for (const [name, body, expected] of cases) {
      const out = path.join(dir, `out-${name}`);
      const r = cli(['run', plate, '--pipeline', await pipelineFile(name, body), '--out', out]);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(expected);
      expect(await allFiles(out), `${name} must not create output`).toEqual([]);
    }
  });

  it('a ".." in a name from a metadata file is refused', async () => {
    const evil = path.join(dir, 'evil_out');
    await mkdir(path.join(evil, 'main'), { recursive: true });
    await writeFile(
      path.join(evil, 'plateflow_metadata.json'),
      JSON.stringify({ format: 'plateflow', version: 1, subdirectories: { main: { handler: 'plateflow', sourceFormat: 'x', backend: 'disk', main: true, grid: null, components: {}, files: { '../../etc/passwd': { well: 'A01' } } } } }),
    );
    const r = cli(['inspect', evil]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_PATH_UNSAFE\].*'\.\.' is not allowed/);
  });

  it('bad usage exits 2 with the error and one line pointing at --help, not the whole help nor a stack trace', () => {
    const r = cli(['run', plate]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '-p, --pipeline <file>'/);
    const bad = cli(['run', plate, '-p', STANDARD, '--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(["error: unknown option '--frobnicate'", '(see "plateflow run --help" for the options)']);
    const synth = cli(['synth', path.join(dir, 's'), '--wells', 'many']);
    expect(synth.code).toBe(2);
    expect(synth.stderr).toMatch(/--wells must be a positive integer, got "many"/);
  });

  it('--only with a value the plate does not have, or empty, is an error listing the values (exit 2), not a silent partial or empty run', async () => {
    const out = path.join(dir, 'out-only');
    for (const only of ['Z99', 'A01,Z99', '']) {
      const r = cli(['run', plate, '-p', STANDARD, '-o', out, '--only', only]);
      expect(r.code, `--only "${only}": ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(only === '' ? /\[E_CONFIG_INVALID\] bad well filter '': the filter is empty/ : /\[E_CONFIG_INVALID\] well filter "[A-Z0-9,]+": 'Z99' matches no well of this plate; its well values are A01, A02/);
    }
    expect(await allFiles(out)).toEqual([]);
  });

  it('a lenient batch in which no plate can run exits non-zero, listing why', () => {
    const r = cli(['batch', path.join(dir, 'nope-1'), path.join(dir, 'nope-2'), '-p', STANDARD, '-o', path.join(dir, 'out-nothing'), '--lenient']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[E_PLATE_NOT_FOUND\] none of the 2 plate\(s\) can be run, so the batch would do nothing:\n.*nope-1: .*\n.*nope-2: /);
  });

  it('a function that throws in one task leaves the others complete', async () => {
    const p = await pipelineFile('fails.json', {
      modules: [path.join(REPO, 'test', 'fixtures', 'steps', 'fail-on-well.mjs')],
      steps: [{ func: 'max_projection', variableComponents: ['z'], backend: 'disk' }, { func: ['fail_on_well', { well: 'A01' }], backend: 'disk' }],
    });
    const out = path.join(dir, 'out-fails');
    const r = cli(['run', plate, '--pipeline', p, '--out', out, '--json']);
    expect(r.code).toBe(1);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 2, ok: 1, failed: 1 });
    const files = await allFiles(out);
    expect(files.filter((f) => f.startsWith('2_fail_on_well/')).sort()).toEqual(['2_fail_on_well/well-A02_site-1_channel-1.tif', '2_fail_on_well/well-A02_site-1_channel-2.tif']);
    const { readFile } = await import('node:fs/promises');
    const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'));
    expect(results.tasks.A01.error.message).toMatch(/task A01, step "fail_on_well", function fail_on_well: deliberate failure in well A01/);
  });
});
