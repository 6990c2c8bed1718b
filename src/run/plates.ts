import { createHash } from 'node:crypto';
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

/**
 * Output sub-folder names per plate, from their paths alone, so the same plate gets the same
 * folder whatever the order of the arguments (a resumed batch finds its checkpoints even when
 * the plates are listed differently): the folder name, with as many parent folders before it
 * (joined by `_`) as it takes to tell same-named plates apart — `/runs/a/plate` and
 * `/runs/b/plate` become `a_plate` and `b_plate`.
 */
export function plateOutputNames(plates: readonly string[]): string[] {
  const segments = plates.map((plate) => path.resolve(plate).split(/[\\/]+/).filter(Boolean).map((s) => s.replace(/[^A-Za-z0-9.-]+/g, '_')));
  const suffix = (segs: readonly string[], depth: number) => segs.slice(-depth).join('_') || 'plate';
  const names = segments.map((segs, i) => {
    let depth = 1;
    while (depth < segs.length && segments.some((other, j) => j !== i && suffix(other, depth) === suffix(segs, depth))) depth++;
    return suffix(segs, depth);
  });
  // Paths that differ only in characters a folder name cannot keep: tell them apart by a hash of the path.
  return names.map((name, i) =>
    names.indexOf(name) === names.lastIndexOf(name) ? name : `${suffix(segments[i]!, 1)}-${createHash('sha256').update(path.resolve(plates[i]!)).digest('hex').slice(0, 8)}`,
  );
}
