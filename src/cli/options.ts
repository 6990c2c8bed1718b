import { InvalidArgumentError } from 'commander';

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
