import v8 from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import type { PipelineDefinition } from '../src/pipeline/types.js';
import { fakePlate } from './plans.js';

const standard: PipelineDefinition = {
  steps: [
    { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'disk' },
    { name: 'count', func: { '1': [['gaussian_blur', { sigma: 2 }], 'otsu_threshold', 'label', ['count_objects', { min_size: 20 }]] } },
  ],
};

describe('compiler', () => {
  it('makes one plan per axis value with validated, defaulted kwargs and planned paths', async () => {
    const run = await compile(standard, fakePlate(['A01', 'A02', 'A10']), { out: '/tmp/out' });
    expect([...run.tasks.keys()]).toEqual(['A01', 'A02', 'A10']);
    const plan = run.tasks.get('A02')!;
    expect(plan.inputs).toHaveLength(12);
    expect(plan.inputs.every((i) => i.components.well === 'A02')).toBe(true);
    expect(plan.steps[0]!.outputDir).toBe('/tmp/out/1_project');
    expect(plan.steps[0]!.main).toBe(false);
    expect(plan.steps[1]!.backend).toBe('disk');
    expect(plan.steps[1]!.main).toBe(true);
    const gaussian = plan.steps[1]!.pattern.byGroup['1']![0]!;
    expect(gaussian).toEqual({ fn: 'gaussian_blur', kwargs: { sigma: 2, truncate: 4 } });
  });

  it('defaults the output root to <plate>_plateflow and the last step to disk', async () => {
    const run = await compile({ steps: [{ func: 'max_projection', variableComponents: ['z'] }] }, fakePlate(['B03'], 1, 1, 2, '/data/plate7/'));
    expect(run.outputRoot).toBe('/data/plate7_plateflow');
    expect(run.steps[0]!.backend).toBe('disk');
  });

  it('deep-freezes plans: mutating any nested field throws', async () => {
    const plan = (await compile(standard, fakePlate(['A01']))).tasks.get('A01')!;
    expect(() => ((plan as { taskId: string }).taskId = 'x')).toThrow(TypeError);
    expect(() => ((plan.inputs[0]!.components as Record<string, string>).well = 'Z99')).toThrow(TypeError);
    expect(() => ((plan.steps[1]!.pattern.byGroup['1']![0]!.kwargs as Record<string, unknown>).sigma = 9)).toThrow(TypeError);
    expect(() => (plan.steps as unknown as unknown[]).push({})).toThrow(TypeError);
    expect(() => ((plan.resources as { weight: number }).weight = 0)).toThrow(TypeError);
  });

  it('plans survive structuredClone and v8 serialization unchanged, and compiling twice is identical', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), async (wells, sites, zs) => {
        const plate = fakePlate(Array.from({ length: wells }, (_, i) => `C${i + 1}`), sites, 2, zs);
        const a = await compile(standard, plate, { out: '/o' });
        const b = await compile(standard, plate, { out: '/o' });
        for (const [id, plan] of a.tasks) {
          expect(structuredClone(plan)).toEqual(plan);
          expect(v8.deserialize(v8.serialize(plan))).toEqual(plan);
          expect(JSON.stringify(b.tasks.get(id))).toBe(JSON.stringify(plan));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('supports a tuple axis (well, site) and axis filters', async () => {
    const plate = fakePlate(['A01', 'A02', 'B01'], 2, 1, 1);
    const run = await compile({ steps: [{ func: 'image_stats', variableComponents: ['z'] }] }, plate, { config: { axis: ['well', 'site'], variable: ['z'] } });
    expect([...run.tasks.keys()]).toEqual(['well=A01,site=1', 'well=A01,site=2', 'well=A02,site=1', 'well=A02,site=2', 'well=B01,site=1', 'well=B01,site=2']);
    expect(run.tasks.get('well=A02,site=2')!.axis).toEqual({ well: 'A02', site: '2' });
    const filtered = await compile({ steps: [{ func: 'max_projection', variableComponents: ['z'] }] }, plate, { axisFilter: 'A01:A12' });
    expect([...filtered.tasks.keys()]).toEqual(['A01', 'A02']);
  });

  it('refuses a filter naming axis values the plate does not have; warns when a predicate keeps none', async () => {
    await expect(compile(standard, fakePlate(['A01']), { axisFilter: ['H12'] })).rejects.toMatchObject({ code: 'E_CONFIG_INVALID', message: expect.stringContaining("'H12' matches no well of this plate") });
    const run = await compile(standard, fakePlate(['A01']), { axisFilter: () => false });
    expect(run.tasks.size).toBe(0);
    expect(run.warnings.join()).toMatch(/nothing to run/);
  });

  it('names the JSON path for unknown functions, bad kwargs and unknown groups', async () => {
    const plate = fakePlate(['A01']);
    await expect(compile({ steps: [{ func: 'max_projection' }, { func: ['gausian_blur', { sigma: 2 }] }] }, plate)).rejects.toThrowError(
      /^steps\[1\]\.func: unknown function "gausian_blur"; did you mean "gaussian_blur"\?/,
    );
    await expect(compile({ steps: [{ func: ['gaussian_blur', { sigma: -1 }] }] }, plate)).rejects.toMatchObject({ code: 'E_KWARGS_INVALID', context: { jsonPath: 'steps[0].func.kwargs.sigma' } });
    await expect(compile({ steps: [{ func: { '1': 'image_stats', '3': 'image_stats' } }] }, plate)).rejects.toThrowError(
      /^steps\[0\]\.func\.3: group "3" does not exist; channel values in this plate are "1", "2"/,
    );
  });

  it('binds "#n" group keys to the n-th group-by value present', async () => {
    const plate = { ...fakePlate(['O01'], 1, 1, 1), components: { ...fakePlate(['O01'], 1, 1, 1).components, channel: ['2'] } };
    const run = await compile({ steps: [{ func: { '#1': 'image_stats' } }] }, plate);
    expect(Object.keys(run.steps[0]!.pattern.byGroup)).toEqual(['2']);
    await expect(compile({ steps: [{ func: { '#2': 'image_stats' } }] }, plate)).rejects.toThrowError(/there is no channel number 2; channel values in this plate are "2"/);
  });

  it('rejects a contradictory component configuration with advice', async () => {
    await expect(compile(standard, fakePlate(['A01']), { config: { variable: ['channel'] } })).rejects.toMatchObject({ code: 'E_CONFIG_INVALID' });
    await expect(compile(standard, fakePlate(['A01']), { config: { axis: 'plane' } })).rejects.toThrowError(/plane/);
  });
});
