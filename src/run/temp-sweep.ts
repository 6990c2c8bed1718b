import { sweepStaleTempFiles, type TempSweepOptions } from '../storage/stale-temp.js';

/**
 * Removes the temp files of an output folder whose writers are gone (see storage/stale-temp.ts)
 * and says what it did. Litter is never worth failing a run for: a folder that cannot be swept
 * is a warning.
 */
export async function sweepOutputFolder(root: string, options: TempSweepOptions & { readonly warn?: ((message: string) => void) | undefined } = {}): Promise<void> {
  const { warn, ...sweepOptions } = options;
  let sweep;
  try {
    sweep = await sweepStaleTempFiles(root, sweepOptions);
  } catch (err) {
    warn?.(`could not remove stale temp files in ${root}: ${(err as Error).message}`);
    return;
  }
  if (sweep.removed.length > 0 && !options.includeOwn) warn?.(`removed ${sweep.removed.length} temp file(s) left by an interrupted run in ${root}`);
  if (sweep.otherHosts.length > 0) {
    const hosts = [...new Set(sweep.otherHosts.map((f) => f.host))].join(', ');
    warn?.(`left ${sweep.otherHosts.length} temp file(s) of other hosts (${hosts}) in ${root}: their writers may still be running; they are removed once a day old`);
  }
}
