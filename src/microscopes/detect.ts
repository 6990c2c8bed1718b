/**
 * Format detection: try each built-in handler in registry order, take the first that fits, and
 * when none does, say why each one was rejected — the most useful message when a user points
 * plateflow at the wrong folder or at a format it does not know yet.
 *
 * @module
 */
import { DiscoveryError } from '../errors.js';
import type { FormatHandler, PlateListing } from './handler.js';
import { FORMAT_HANDLERS } from './registry.js';

/**
 * The first handler of `handlers` (default: the registry, in its order) that fits `listing`.
 *
 * @throws DiscoveryError `E_FORMAT_UNKNOWN` when none fits; the message has one line per handler
 *   with its reason, and `context.reasons` maps handler name → reason.
 */
export function detectFormat(root: string, listing: PlateListing, handlers: readonly FormatHandler[] = FORMAT_HANDLERS): FormatHandler {
  const reasons: Record<string, string> = {};
  for (const handler of handlers) {
    const result = handler.detect(listing);
    if (result.ok) return handler;
    reasons[handler.name] = result.reason;
  }
  const lines = Object.entries(reasons).map(([name, reason]) => `  - ${name}: ${reason}`);
  throw new DiscoveryError(
    'E_FORMAT_UNKNOWN',
    `no known plate format fits ${root}:\n${lines.join('\n')}\nIf the files follow another naming rule, describe it with a pattern, e.g. {well}_s{site}_w{channel}.tif`,
    { path: root, reasons },
  );
}
