/**
 * How disk steps store their output planes: TIFF files (one per plane, the default), or one
 * OME-Zarr plate per step (`<output root>/<step id>.zarr`, NGFF 0.4 on zarr v2 or 0.5 on zarr v3).
 *
 * One parser for the CLI flag and the library option, so both accept the same spellings and give
 * the same message.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { NgffVersion } from '../ome-zarr/ngff.js';

export type OutputFormat = 'tiff' | 'ome-zarr@0.4' | 'ome-zarr@0.5';

/** What callers may write: a format, or `ome-zarr` for the default NGFF version (0.5). */
export type OutputFormatInput = OutputFormat | 'ome-zarr';

export const OUTPUT_FORMATS: readonly OutputFormatInput[] = Object.freeze(['tiff', 'ome-zarr', 'ome-zarr@0.4', 'ome-zarr@0.5']);

/** NGFF version `ome-zarr` without a version stands for: the current one. */
export const DEFAULT_NGFF_FOR_OUTPUT: NgffVersion = '0.5';

/**
 * `tiff`, `ome-zarr`, `ome-zarr@0.4`, `ome-zarr@0.5` (case-insensitive) → the format.
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for anything else; the message names `what` (the flag
 *   or option), quotes the value and lists the choices.
 */
export function parseOutputFormat(value: string, what = 'output format'): OutputFormat {
  const v = value.trim().toLowerCase();
  if (v === 'tiff' || v === 'ome-zarr@0.4' || v === 'ome-zarr@0.5') return v;
  if (v === 'ome-zarr') return `ome-zarr@${DEFAULT_NGFF_FOR_OUTPUT}`;
  throw new ConfigError(`${what} must be one of ${OUTPUT_FORMATS.join(', ')} (ome-zarr = ome-zarr@${DEFAULT_NGFF_FOR_OUTPUT}), got "${value}"`, { value });
}

/** The NGFF version of an OME-Zarr output format, or undefined for TIFF. */
export function ngffOfOutput(format: OutputFormat | null): NgffVersion | undefined {
  return format === 'ome-zarr@0.4' ? '0.4' : format === 'ome-zarr@0.5' ? '0.5' : undefined;
}
