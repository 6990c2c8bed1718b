/**
 * Kwargs that set how much work a built-in does are bounded, with an error that names the
 * function, the kwarg, its value and the image size, instead of a task that computes for minutes.
 * Static bounds in the schema where no image is needed; bounds against the image at run time.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPlateflowError } from '../src/errors.js';
import { createStack } from '../src/image.js';
import { parseKwargs } from '../src/processing/kwargs.js';
import { tinyPlate } from './executor-harness.js';
import { builtin, call } from './golden/pipeline.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('gaussian_blur sigma against the image size', () => {
  it('a kernel wider than twice the image is refused before any work, naming function, kwarg, value and size', () => {
    // 64×64 with σ = 100000 would take a radius of 400000 px: seconds of work here, minutes on a real image.
    const err = thrown(() => call('gaussian_blur', createStack('uint16', 2, 64, 48), { sigma: 100000 }));
    expect(isPlateflowError(err, 'E_KWARGS_INVALID')).toBe(true);
    expect((err as Error).message).toBe(
      'gaussian_blur: kwarg "sigma" = 100000 is too large for a 64×48 image: the kernel radius int(truncate × sigma + 0.5) = 400000 px exceeds 256 px ' +
        "(twice the image's larger side, beyond which the blur only adds reflected copies of the image); use sigma ≤ 64 with truncate 4",
    );
    expect((err as { context: object }).context).toMatchObject({ fn: 'gaussian_blur', kwarg: 'sigma', value: 100000, imageHeight: 64, imageWidth: 48 });
  });

  it('the limit is twice the larger side (at least 256 px), exactly', () => {
    const big = createStack('uint8', 1, 150, 200);
    expect(() => call('gaussian_blur', big, { sigma: 100 })).not.toThrow(); // radius 400 = 2 × 200
    expect(() => call('gaussian_blur', big, { sigma: 100.2 })).toThrow(/radius .* = 401 px exceeds 400 px.*use sigma ≤ 100 with truncate 4/);
    expect(() => call('gaussian_blur', big, { sigma: 200, truncate: 2 })).not.toThrow();
    // Small images keep SciPy's semantics for kernels longer than the image (reflected periodically).
    expect(() => call('gaussian_blur', createStack('uint8', 1, 3, 3), { sigma: 6 })).not.toThrow();
  });

  it('truncate has a static bound: past 20 σ the weights cannot change a float32 pixel', () => {
    const err = thrown(() => parseKwargs(builtin('gaussian_blur'), { sigma: 1, truncate: 1e6 }));
    expect(err).toMatchObject({ code: 'E_KWARGS_INVALID', context: { fn: 'gaussian_blur', kwarg: 'truncate' } });
    expect((err as Error).message).toMatch(/gaussian_blur: kwarg "truncate": .*20.*\(got 1000000\)/);
  });

  it('illumination_correct smooths with the same bound', () => {
    const err = thrown(() => call('illumination_correct', createStack('uint16', 4, 128, 128), { sigma: 100000 }));
    expect(err).toMatchObject({ code: 'E_KWARGS_INVALID', context: { fn: 'illumination_correct', kwarg: 'sigma' } });
    expect((err as Error).message).toMatch(/^illumination_correct: kwarg "sigma" = 100000 is too large for a 128×128 image/);
  });

  it('plateflow run: the task ends with that error at once; the run reports it', async () => {
    const dir = await tempDir('plateflow-kwargs-bounds-');
    const plate = path.join(dir, 'plate');
    await tinyPlate(plate, 2);
    const pipeline = path.join(dir, 'wide.json');
    await writeFile(pipeline, JSON.stringify({ steps: [{ name: 'blur', func: [['gaussian_blur', { sigma: 100000 }]], variableComponents: ['z'], backend: 'disk' }] }));
    const out = path.join(dir, 'out');
    const r = cli(['run', plate, '-p', pipeline, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(lastJsonLine(r.stdout)).toMatchObject({ tasks: 2, failed: 2 });
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { tasks: Record<string, { status: string; error: { message: string } }> };
    expect(results.tasks.A01).toMatchObject({ status: 'error' });
    expect(results.tasks.A01!.error.message).toMatch(/gaussian_blur: kwarg "sigma" = 100000 is too large for a 32×32 image/);
  });
});
