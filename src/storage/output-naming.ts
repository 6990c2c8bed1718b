import { UnsafePathError } from '../errors.js';

/**
 * File names of plateflow's own output: `well-A01_site-1_channel-2.tif`. Each pair is
 * `<component>-<value>`; pairs are joined by `_`, so neither names nor values may contain `_` or `/`.
 */
const SAFE_VALUE = /^[A-Za-z0-9.+-]+$/;
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

export const OUTPUT_EXTENSION = '.tif';

export function outputStem(components: Readonly<Record<string, string>>, order: readonly string[]): string {
  const parts: string[] = [];
  for (const name of order) {
    const value = components[name];
    if (value === undefined) continue;
    if (!SAFE_NAME.test(name)) throw new UnsafePathError(name, 'component names must be letters and digits');
    if (!SAFE_VALUE.test(value)) throw new UnsafePathError(value, `value of component "${name}" may only contain letters, digits, ".", "+" and "-"`);
    parts.push(`${name}-${value}`);
  }
  return parts.join('_');
}

export function outputFileName(components: Readonly<Record<string, string>>, order: readonly string[]): string {
  return outputStem(components, order) + OUTPUT_EXTENSION;
}

/** Inverse of `outputFileName`; undefined when the name is not one of ours. */
export function parseOutputFileName(fileName: string): Record<string, string> | undefined {
  if (!fileName.toLowerCase().endsWith(OUTPUT_EXTENSION)) return undefined;
  const stem = fileName.slice(0, -OUTPUT_EXTENSION.length);
  const out: Record<string, string> = {};
  for (const pair of stem.split('_')) {
    const dash = pair.indexOf('-');
    if (dash <= 0) return undefined;
    const name = pair.slice(0, dash);
    const value = pair.slice(dash + 1);
    if (!SAFE_NAME.test(name) || !SAFE_VALUE.test(value) || name in out) return undefined;
    out[name] = value;
  }
  return out;
}
