import { describe, expect, it } from 'vitest';
import { isPlateflowError, PipelineError } from '../src/errors.js';
import { BUILTIN_FUNCTIONS } from '../src/processing/builtins.js';
import { parseKwargs } from '../src/processing/kwargs.js';
import { builtin } from './golden/pipeline.js';

function kwargsError(name: string, raw: unknown): PipelineError {
  try {
    parseKwargs(builtin(name), raw);
  } catch (err) {
    if (isPlateflowError(err, 'E_KWARGS_INVALID')) return err as PipelineError;
    throw err;
  }
  throw new Error(`${name} accepted ${JSON.stringify(raw)}`);
}

describe('built-in registry list', () => {
  it('lists every built-in once, by snake_case name, frozen', () => {
    const names = BUILTIN_FUNCTIONS.map((d) => d.name);
    expect(names).toEqual([
      'max_projection',
      'mean_projection',
      'sum_projection',
      'gaussian_blur',
      'otsu_threshold',
      'label',
      'count_objects',
      'image_stats',
      'percentile_normalize',
      'illumination_correct',
    ]);
    expect(Object.isFrozen(BUILTIN_FUNCTIONS)).toBe(true);
    for (const d of BUILTIN_FUNCTIONS) {
      expect(Object.isFrozen(d)).toBe(true);
      expect(d.description.length).toBeGreaterThan(10);
    }
  });

  it('every schema is strict and accepts {} unless a kwarg is required', () => {
    for (const d of BUILTIN_FUNCTIONS) {
      const err = kwargsError(d.name, { sigma: 1, surely_not_a_kwarg: 1 });
      expect(err.message).toContain('"surely_not_a_kwarg"');
      if (d.name !== 'gaussian_blur') expect(() => parseKwargs(d, {})).not.toThrow();
    }
  });
});

describe('kwargs validation', () => {
  it('applies defaults', () => {
    expect(parseKwargs(builtin('gaussian_blur'), { sigma: 2 })).toEqual({ sigma: 2, truncate: 4 });
    expect(parseKwargs(builtin('otsu_threshold'), undefined)).toEqual({ bins: 256 });
    expect(parseKwargs(builtin('label'), {})).toEqual({ connectivity: 4 });
    expect(parseKwargs(builtin('count_objects'), {})).toEqual({ min_size: 0, connectivity: 4 });
    expect(parseKwargs(builtin('percentile_normalize'), {})).toEqual({ low: 1, high: 99.9 });
    expect(parseKwargs(builtin('illumination_correct'), {})).toEqual({ method: 'mean', sigma: 50 });
  });

  it('rejects an unknown kwarg, naming it and the function', () => {
    const err = kwargsError('gaussian_blur', { sigma: 2, sgima: 3 });
    expect(err.message).toBe('gaussian_blur: unknown kwarg "sgima"');
    expect(err.context).toMatchObject({ fn: 'gaussian_blur', kwarg: 'sgima' });
  });

  it('rejects sigma ≤ 0 and a missing sigma, naming the kwarg and the value', () => {
    for (const sigma of [0, -1]) {
      const err = kwargsError('gaussian_blur', { sigma });
      expect(err.message).toMatch(new RegExp(`^gaussian_blur: kwarg "sigma": .*>0.*\\(got ${sigma}\\)$`));
      expect(err.context.kwarg).toBe('sigma');
    }
    expect(kwargsError('gaussian_blur', {}).message).toMatch(/kwarg "sigma".*got nothing/);
    expect(kwargsError('gaussian_blur', { sigma: '2' }).message).toMatch(/kwarg "sigma".*got "2"/);
  });

  it('rejects bad values of the other kwargs', () => {
    expect(kwargsError('label', { connectivity: 6 }).context.kwarg).toBe('connectivity');
    expect(kwargsError('count_objects', { min_size: -1 }).context.kwarg).toBe('min_size');
    expect(kwargsError('count_objects', { min_size: 2.5 }).context.kwarg).toBe('min_size');
    expect(kwargsError('otsu_threshold', { bins: 1 }).context.kwarg).toBe('bins');
    expect(kwargsError('percentile_normalize', { low: 50, high: 10 }).context.kwarg).toBe('low');
    expect(kwargsError('percentile_normalize', { high: 101 }).context.kwarg).toBe('high');
    expect(kwargsError('illumination_correct', { method: 'max' }).context.kwarg).toBe('method');
  });

  it('rejects kwargs that are not an object', () => {
    expect(kwargsError('label', [4]).message).toMatch(/^label: kwargs/);
  });
});
