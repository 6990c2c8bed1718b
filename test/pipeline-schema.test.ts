import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPlateflowError } from '../src/errors.js';
import { loadPipelineFile } from '../src/pipeline/load.js';
import { parsePipeline } from '../src/pipeline/schema.js';
import { tempDir } from './helpers.js';

describe('pipeline file validation', () => {
  it('accepts every function-pattern form', () => {
    const p = parsePipeline({
      steps: [
        { func: 'max_projection', variableComponents: ['z'] },
        { func: ['gaussian_blur', { sigma: 2 }] },
        { func: [['gaussian_blur', { sigma: 1 }], 'otsu_threshold', { fn: 'label', kwargs: { connectivity: 8 } }] },
        { func: { '1': 'image_stats', '2': [['gaussian_blur', { sigma: 3 }]] } },
      ],
    });
    expect(p.steps).toHaveLength(4);
  });

  it('points at the JSON path of the first problem', () => {
    const bad = () => parsePipeline({ steps: [{ func: 'max_projection' }, { func: 42 }] }, 'p.json');
    expect(bad).toThrowError(/^p\.json: steps\[1\]\.func: /);
    try {
      bad();
    } catch (err) {
      expect(isPlateflowError(err, 'E_PIPELINE_INVALID')).toBe(true);
      expect((err as { context: { jsonPath: string } }).context.jsonPath).toBe('steps[1].func');
    }
  });

  it('rejects unknown keys, empty pipelines, and ambiguous group maps', () => {
    expect(() => parsePipeline({ steps: [{ func: 'x', colour: 'red' }] })).toThrowError(/steps\[0\]: Unrecognized key/);
    expect(() => parsePipeline({ steps: [] })).toThrowError(/steps: a pipeline needs at least one step/);
    expect(() => parsePipeline({ steps: [{ func: { fn: 'x', kwargs: {}, extra: 1 } }] })).toThrowError(/steps\[0\]\.func/);
  });

  it('reads JSON and YAML files, naming the file on errors', async () => {
    const dir = await tempDir();
    const yaml = path.join(dir, 'p.yaml');
    await writeFile(yaml, 'steps:\n  - func: max_projection\n    variableComponents: [z]\n');
    expect((await loadPipelineFile(yaml)).definition.steps[0]!.variableComponents).toEqual(['z']);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"steps": [');
    await expect(loadPipelineFile(broken)).rejects.toThrowError(/broken\.json: not valid JSON/);
    await expect(loadPipelineFile(path.join(dir, 'missing.json'))).rejects.toThrowError(/missing\.json: cannot read pipeline file: file not found/);
  });
});
