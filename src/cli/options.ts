import { InvalidArgumentError, Option } from 'commander';
import { COLOR_MODES } from '../microscopes/samples.js';

export const log = (line: string): void => {
  process.stderr.write(line + '\n');
};

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

/** `well` or `well,site` → component names. */
export function components(value: string): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('give at least one component name, e.g. "well" or "well,site"');
  return parts;
}

/** `--color`: how colour (RGB/RGBA) TIFFs are read; one definition for every command that discovers a plate. */
export function colorOption(): Option {
  return new Option('--color <mode>', 'colour (multi-sample) TIFFs: channels = each sample is a channel (<channel>-r/-g/-b, or 1/2/3 when the names carry no channel); luminance = one plane per file, 0.299 R + 0.587 G + 0.114 B as float32')
    .choices([...COLOR_MODES])
    .default('channels');
}
