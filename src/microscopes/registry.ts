/**
 * The one list of built-in format handlers, in detection order. Adding a format means adding it
 * here — nothing registers itself on import, so the main thread and every worker see the same set.
 *
 * Order matters: plateflow's own output comes first (its metadata file is unambiguous), then the
 * instrument formats, then OME-Zarr (found by its Zarr metadata, so it never competes with the
 * TIFF-named formats). The generic pattern handler is not listed: it needs the user's pattern and is
 * only used when asked for (`createPatternHandler`).
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { arrayScanHandler } from './arrayscan.js';
import type { FormatHandler } from './handler.js';
import { imageXpressHandler } from './imagexpress.js';
import { omeZarrHandler } from './ome-zarr.js';
import { operaPhenixHandler } from './opera-phenix.js';
import { plateflowOutputHandler } from './plateflow-output.js';

export const FORMAT_HANDLERS: readonly FormatHandler[] = Object.freeze([
  plateflowOutputHandler,
  imageXpressHandler,
  operaPhenixHandler,
  arrayScanHandler,
  omeZarrHandler,
]);

/** Name of the generic handler, which needs a `pattern`. */
export const PATTERN_FORMAT = 'pattern';

const key = (name: string): string => name.toLowerCase().replace(/[-_\s]/g, '');

/** Names `discoverPlate({ format })` accepts, as shown to users. */
export function formatNames(): string[] {
  return [...FORMAT_HANDLERS.map((h) => h.name), PATTERN_FORMAT];
}

/**
 * The built-in handler called `name` (case-insensitive; `-`, `_` and spaces ignored; aliases such
 * as `opera` or `cellomics` accepted).
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for an unknown name, listing the known formats.
 */
export function getFormatHandler(name: string): FormatHandler {
  const k = key(name);
  const found = FORMAT_HANDLERS.find((h) => key(h.name) === k || (h.aliases ?? []).some((a) => key(a) === k));
  if (found) return found;
  if (k === PATTERN_FORMAT) {
    throw new ConfigError(`format 'pattern' needs a pattern, e.g. {well}_s{site}_w{channel}.tif`, { format: name });
  }
  throw new ConfigError(`unknown format '${name}'; known formats: ${formatNames().join(', ')}`, { format: name });
}
