import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { naturalCompare } from '../components/natural-sort.js';

/**
 * Plate arguments as typed: folders, or a glob in the last path segment (`runs/plate_*`) for
 * shells that do not expand it (or quoted on purpose). A glob that matches nothing is kept as
 * written, so the strict check reports it as missing instead of silently dropping it.
 */
export async function expandPlateArguments(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const base = path.basename(arg);
    if (!/[*?[]/.test(base)) {
      out.push(path.resolve(arg));
      continue;
    }
    const dir = path.dirname(path.resolve(arg));
    const pattern = globToRegExp(base);
    const names = await readdir(dir).catch(() => [] as string[]);
    const matches: string[] = [];
    for (const name of names.sort(naturalCompare)) {
      if (pattern.test(name) && (await stat(path.join(dir, name)).then((s) => s.isDirectory(), () => false))) matches.push(path.join(dir, name));
    }
    out.push(...(matches.length > 0 ? matches : [path.resolve(arg)]));
  }
  return [...new Set(out)];
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        source += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\').replace(/^!/, '^')}]`;
        i = end;
      }
    } else source += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Output sub-folder names per plate: the folder name, made unique with -2, -3 … */
export function plateOutputNames(plates: readonly string[]): string[] {
  const used = new Map<string, number>();
  return plates.map((plate) => {
    const base = path.basename(plate).replace(/[^A-Za-z0-9._-]+/g, '_') || 'plate';
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}
