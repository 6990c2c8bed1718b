import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PipelineError } from '../errors.js';
import { parsePipeline } from './schema.js';
import type { PipelineDefinition } from './types.js';

export interface LoadedPipeline {
  readonly definition: PipelineDefinition;
  /** Absolute path of the file; relative module paths resolve against its directory. */
  readonly file: string;
}

/** Reads a `.json`, `.yaml` or `.yml` pipeline file and validates it. @throws PipelineError E_PIPELINE_INVALID */
export async function loadPipelineFile(file: string): Promise<LoadedPipeline> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new PipelineError('E_PIPELINE_INVALID', `${file}: cannot read pipeline file: ${why}`, { file }, { cause: err });
  }
  let document: unknown;
  try {
    document = /\.ya?ml$/i.test(absolute) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new PipelineError('E_PIPELINE_INVALID', `${file}: not valid ${/\.ya?ml$/i.test(absolute) ? 'YAML' : 'JSON'}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return { definition: parsePipeline(document, path.basename(file)), file: absolute };
}
