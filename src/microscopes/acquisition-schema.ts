/**
 * One zod schema for `AcquisitionMetadata`, for every place it arrives as data: task plans from
 * Redis or Slurm, `plateflow_metadata.json` read back as a plate. Keys are component values, so
 * they are free text; values are checked for type and finiteness only.
 *
 * @module
 */
import { z } from 'zod';
import type { AcquisitionMetadata } from './types.js';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const position = z.strictObject({ x: finite.optional(), y: finite.optional(), z: finite.optional() });

export const acquisitionSchema: z.ZodType<AcquisitionMetadata> = z.strictObject({
  source: z.string().optional(),
  channels: z.record(z.string(), z.string()).optional(),
  wavelengths: z.record(z.string(), finite).optional(),
  pixelSize: z.strictObject({ x: finite.positive(), y: finite.positive(), z: finite.positive().optional(), unit: z.literal('micrometer') }).optional(),
  sites: z.record(z.string(), position).optional(),
  planes: z.record(z.string(), finite).optional(),
  timepoints: z.record(z.string(), finite).optional(),
});
