import { naturalCompare } from '../components/natural-sort.js';

export interface Keyed {
  readonly components: Readonly<Record<string, string>>;
}

export interface ImageGroup<T extends Keyed> {
  /** Components shared by every member (all but the variable ones). */
  readonly common: Readonly<Record<string, string>>;
  /** Members ordered by their variable components. */
  readonly members: readonly T[];
}

/**
 * Splits images into stacks: members of one group agree on every component except the variable
 * ones. Groups and members come out in natural order so every executor sees the same stacks.
 */
export function groupImages<T extends Keyed>(images: readonly T[], variable: readonly string[], order: readonly string[]): ImageGroup<T>[] {
  const varying = new Set(variable);
  const groups = new Map<string, { common: Record<string, string>; members: T[] }>();
  for (const image of images) {
    const common: Record<string, string> = {};
    for (const [name, value] of Object.entries(image.components)) if (!varying.has(name)) common[name] = value;
    const key = order.filter((c) => c in common).map((c) => `${c}=${common[c]}`).join('\u0000');
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { common, members: [] }));
    group.members.push(image);
  }
  const compareBy = (names: readonly string[]) => (a: Keyed, b: Keyed) => {
    for (const c of names) {
      const d = naturalCompare(a.components[c] ?? '', b.components[c] ?? '');
      if (d !== 0) return d;
    }
    return 0;
  };
  const byVariable = compareBy(variable);
  const byOrder = compareBy(order);
  return [...groups.values()]
    .sort((a, b) => byOrder({ components: a.common }, { components: b.common }))
    .map((g) => ({ common: g.common, members: g.members.sort(byVariable) }));
}

/**
 * Components of each output plane of a function given `inputs.length` planes: same count → the
 * inputs' own; one plane → the shared components plus any variable component all inputs agree on;
 * another count → the shared components plus the first variable component numbered 1..n.
 */
export function outputComponents(
  inputs: readonly Readonly<Record<string, string>>[],
  common: Readonly<Record<string, string>>,
  variable: readonly string[],
  planes: number,
): Readonly<Record<string, string>>[] {
  if (planes === inputs.length) return [...inputs];
  if (planes === 1) {
    const merged: Record<string, string> = { ...common };
    for (const c of variable) {
      const first = inputs[0]?.[c];
      if (first !== undefined && inputs.every((i) => i[c] === first)) merged[c] = first;
    }
    return [merged];
  }
  const numbered = variable[0] ?? 'plane';
  return Array.from({ length: planes }, (_, i) => ({ ...common, [numbered]: String(i + 1) }));
}
