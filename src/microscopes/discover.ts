/**
 * `discoverPlate`: from a folder to a `PlateIndex` — walk once, pick the format, parse every image
 * name once, check the result, sort it, and cache it.
 *
 * @module
 */
import path from 'node:path';
import { applyFilter, type KeyFilter } from '../components/filters.js';
import { STANDARD_COMPONENTS } from '../components/names.js';
import { naturalCompare, sortValues } from '../components/natural-sort.js';
import { inferGrid } from '../components/wells.js';
import { deepFreeze } from '../compiler/plan.js';
import { ConfigError, DiscoveryError, StorageError } from '../errors.js';
import { detectFormat } from './detect.js';
import { imageFiles, isTiffPath, type FormatHandler, type HandlerIndex, type PlateListing } from './handler.js';
import { listPlate } from './listing.js';
import { createPatternHandler } from './pattern.js';
import { createPlateflowOutputHandler } from './plateflow-output.js';
import { FORMAT_HANDLERS, getFormatHandler, PATTERN_FORMAT } from './registry.js';
import { COLOR_MODES, expandSamples, type ColorMode } from './samples.js';
import type { AcquisitionMetadata, ImageRecord, PlateGrid, PlateIndex, SkippedFile } from './types.js';

export interface DiscoverOptions {
  /** Format name (or alias) to use instead of detection, e.g. 'ImageXpress', 'opera'. */
  readonly format?: string;
  /** A naming template or regex with named groups (see `pattern.ts`); implies format 'pattern'. */
  readonly pattern?: string;
  /** Put image files no parser matched in `skipped` instead of failing. @defaultValue false */
  readonly lenient?: boolean;
  /** Keep only images whose component values pass these filters (applied after parsing). */
  readonly filters?: Readonly<Record<string, KeyFilter>>;
  /** For plateflow output: read this sub-directory instead of the one marked main. */
  readonly subdirectory?: string;
  /**
   * Colour (multi-sample) TIFFs: each sample becomes a channel (`<channel>-r/-g/-b`, see
   * `expandSamples`), or each file is read as one BT.601 luminance plane.
   * @defaultValue 'channels'
   */
  readonly color?: ColorMode;
}

/** How many unmatched file names an error message quotes. */
const MAX_LISTED = 20;
/** Cached plates; the oldest entry is dropped beyond this. */
const MAX_CACHED = 32;

interface CacheEntry {
  readonly root: string;
  readonly index: Promise<PlateIndex>;
}

/**
 * Discovered plates by (absolute root, format options). Sharing one result between callers is safe
 * because a `PlateIndex` is deep-frozen: nobody can change what another caller sees. Concurrent
 * calls share the same pending promise, so a plate is walked once. The cache does not watch the
 * disk — call `clearComponentCache` after files are added or removed. Filters are not part of the
 * key: they are applied to the cached, unfiltered index on every call.
 */
const cache = new Map<string, CacheEntry>();

/**
 * Forgets cached discoveries, so the next `discoverPlate` rescans the disk: for one plate (any
 * options) when `root` is given, otherwise all.
 */
export function clearComponentCache(root?: string): void {
  if (root === undefined) {
    cache.clear();
    return;
  }
  const abs = path.resolve(root);
  for (const [key, entry] of cache) if (entry.root === abs) cache.delete(key);
}

/**
 * Describes the plate at `root`. Every record carries the five standard components (formats that
 * do not encode one give it the value `'1'`), records are sorted by well, site, channel, z,
 * timepoint (then other components, page and path), and component values are naturally sorted
 * (numeric components numerically). The result is deep-frozen and cached; see `clearComponentCache`.
 *
 * @throws DiscoveryError `E_PLATE_NOT_FOUND` when `root` is missing or not a folder;
 *   `E_DISCOVERY_EMPTY` when it holds no image files, or filters leave none;
 *   `E_FORMAT_UNKNOWN` when no format fits (the message gives each format's reason), or the format
 *   asked for does not fit; `E_UNMATCHED_FILES` when, in strict mode, image files follow no naming
 *   rule (first 20 listed, with the total), or when two files carry identical components.
 * @throws ConfigError `E_CONFIG_INVALID` for an unknown format, a bad pattern, a filter on a
 *   component the plate does not have, or malformed filter text.
 * @throws UnsafePathError `E_PATH_UNSAFE` when a plateflow metadata file names a path outside the plate.
 */
export async function discoverPlate(root: string, opts: DiscoverOptions = {}): Promise<PlateIndex> {
  const abs = path.resolve(root);
  const choice = chooseHandlers(opts); // validate options before touching the disk or the cache
  const color = opts.color ?? 'channels';
  if (!COLOR_MODES.includes(color)) throw new ConfigError(`unknown color mode '${String(color)}'; use ${COLOR_MODES.join(' or ')}`, { color: String(color) });
  const key = JSON.stringify([abs, choice.forced?.name ?? null, opts.pattern ?? null, opts.lenient === true, opts.subdirectory ?? null, color]);
  let entry = cache.get(key);
  if (!entry) {
    const index = scan(abs, choice, opts.lenient === true, color);
    entry = { root: abs, index };
    cache.set(key, entry);
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
    const mine = entry;
    index.catch(() => {
      if (cache.get(key) === mine) cache.delete(key);
    });
  }
  const base = await entry.index;
  return opts.filters === undefined ? base : filterIndex(base, opts.filters);
}

interface HandlerChoice {
  /** The handler asked for by `format` / `pattern`; detection is skipped. */
  readonly forced?: FormatHandler;
  /** What detection tries, in order. */
  readonly candidates: readonly FormatHandler[];
}

function chooseHandlers(opts: DiscoverOptions): HandlerChoice {
  if (opts.pattern !== undefined) {
    if (opts.format !== undefined && opts.format.toLowerCase() !== PATTERN_FORMAT) {
      throw new ConfigError(`both format '${opts.format}' and a pattern were given; drop one (a pattern implies format 'pattern')`, {
        format: opts.format,
      });
    }
    const forced = createPatternHandler(opts.pattern);
    return { forced, candidates: [forced] };
  }
  // The plateflow-output handler with the caller's sub-directory choice stands in for the default one.
  const output = opts.subdirectory !== undefined ? createPlateflowOutputHandler({ subdirectory: opts.subdirectory }) : undefined;
  const candidates = output ? FORMAT_HANDLERS.map((h) => (h.name === output.name ? output : h)) : FORMAT_HANDLERS;
  if (opts.format === undefined) return { candidates };
  const named = getFormatHandler(opts.format);
  const forced = candidates.find((h) => h.name === named.name) ?? named;
  return { forced, candidates: [forced] };
}

async function scan(root: string, choice: HandlerChoice, lenient: boolean, color: ColorMode): Promise<PlateIndex> {
  const listing = await listPlate(root);
  const { forced, candidates } = choice;
  const hasImages = listing.files.some((f) => isTiffPath(f) || candidates.some((h) => h.isImageFile?.(f) === true));
  const empty = (): DiscoveryError => {
    const others = listing.files.length;
    const outputs = (listing.skipped ?? []).map((s) => s.path);
    return new DiscoveryError(
      'E_DISCOVERY_EMPTY',
      `no image files (.tif/.tiff) in ${root}${others > 0 ? ` (${others} other file${others === 1 ? '' : 's'}, e.g. '${listing.files[0]}')` : ' (the folder is empty)'}` +
        (outputs.length > 0 ? `; plateflow output folders are not read as input: ${outputs.join(', ')} (to read one, point plateflow at it)` : ''),
      { path: root },
    );
  };

  // Detection comes first because a metadata-driven format (plateflow output) must get to check its
  // metadata file even when no image is on disk; "no images at all" wins over "no format fits".
  let handler: FormatHandler;
  if (forced) {
    const fit = forced.detect(listing);
    if (!fit.ok) {
      if (!hasImages) throw empty();
      throw new DiscoveryError('E_FORMAT_UNKNOWN', `${root} is not a ${forced.name} plate: ${fit.reason}`, { path: root, format: forced.name });
    }
    handler = forced;
  } else {
    try {
      handler = detectFormat(root, listing, candidates);
    } catch (err) {
      if (!hasImages && err instanceof DiscoveryError) throw empty();
      throw err;
    }
  }
  if (!hasImages && !handler.index) throw empty();

  const indexed: HandlerIndex = (await handler.index?.(root, listing, { lenient })) ?? parseEach(handler, listing);
  const skipped: SkippedFile[] = [...(listing.skipped ?? []), ...(indexed.skipped ?? [])];
  if (indexed.unmatched.length > 0) {
    if (!lenient) throw unmatchedError(root, handler, indexed.unmatched);
    skipped.push(...indexed.unmatched);
  }

  const images = sortRecords(await expandSamples(root, indexed.images, color));
  const kept = removeDuplicates(images, lenient, skipped);
  if (kept.length === 0) {
    throw new DiscoveryError(
      'E_DISCOVERY_EMPTY',
      `no ${handler.name} images in ${root}${skipped.length > 0 ? `; ${skipped.length} file${skipped.length === 1 ? ' was' : 's were'} skipped, e.g. ${skipped[0]!.path}: ${skipped[0]!.reason}` : ''}`,
      { path: root, format: handler.name },
    );
  }
  const grid = (await readGrid(handler, root, listing)) ?? indexed.grid ?? inferGrid(kept.map((r) => r.components['well']!).filter(Boolean));
  skipped.sort((a, b) => naturalCompare(a.path, b.path));
  const acquisition = indexed.acquisition ?? (await handler.acquisition?.(root, listing, kept));
  return buildIndex(root, indexed.format ?? handler.name, kept, skipped, grid, acquisition);
}

function parseEach(handler: FormatHandler, listing: PlateListing): HandlerIndex {
  const images: ImageRecord[] = [];
  const unmatched: SkippedFile[] = [];
  for (const f of imageFiles(handler, listing)) {
    const components = handler.parse(f);
    if (components) images.push({ path: f, components });
    else unmatched.push({ path: f, reason: `does not match ${handler.convention}` });
  }
  return { images, unmatched };
}

async function readGrid(handler: FormatHandler, root: string, listing: PlateListing): Promise<PlateGrid | undefined> {
  if (!handler.grid) return undefined;
  try {
    return await handler.grid(root, listing);
  } catch (err) {
    throw new StorageError(root, `cannot read the ${handler.name} plate file: ${(err as Error).message}`, { cause: err });
  }
}

function unmatchedError(root: string, handler: FormatHandler, unmatched: readonly SkippedFile[]): DiscoveryError {
  const total = unmatched.length;
  const listed = unmatched.slice(0, MAX_LISTED).map((s) => s.path);
  const more = total > MAX_LISTED ? `\n  … and ${total - MAX_LISTED} more` : '';
  return new DiscoveryError(
    'E_UNMATCHED_FILES',
    `${total} image file${total === 1 ? '' : 's'} in ${root} ${total === 1 ? 'does' : 'do'} not follow the ${handler.name} naming (${handler.convention}):\n` +
      listed.map((p) => `  ${p}`).join('\n') +
      more +
      '\nRename or move them, or discover leniently to skip them.',
    { path: root, format: handler.name, files: listed, total },
  );
}

/** Component names in report order: the standard five, then the others naturally sorted. */
function componentOrder(names: Iterable<string>): string[] {
  const set = new Set(names);
  const standard = STANDARD_COMPONENTS.filter((c) => set.has(c));
  const extra = [...set].filter((c) => !(STANDARD_COMPONENTS as readonly string[]).includes(c)).sort(naturalCompare);
  return [...standard, ...extra];
}

function componentValues(images: readonly ImageRecord[]): Record<string, string[]> {
  const values = new Map<string, Set<string>>();
  for (const r of images) {
    for (const [c, v] of Object.entries(r.components)) {
      let s = values.get(c);
      if (!s) values.set(c, (s = new Set()));
      s.add(v);
    }
  }
  const out: Record<string, string[]> = {};
  for (const c of componentOrder(values.keys())) out[c] = sortValues(c, values.get(c)!);
  return out;
}

/**
 * Sorts by component (in `componentOrder`, each by its rank in the sorted value list, so records and
 * `components` agree), then page, then path. A missing component sorts first.
 */
function sortRecords(images: readonly ImageRecord[]): ImageRecord[] {
  const values = componentValues(images);
  const order = Object.keys(values);
  const rank = new Map<string, Map<string, number>>();
  for (const c of order) rank.set(c, new Map(values[c]!.map((v, i) => [v, i])));
  const rankOf = (r: ImageRecord, c: string): number => {
    const v = r.components[c];
    return v === undefined ? -1 : rank.get(c)!.get(v)!;
  };
  return [...images].sort((a, b) => {
    for (const c of order) {
      const d = rankOf(a, c) - rankOf(b, c);
      if (d !== 0) return d;
    }
    return (a.page ?? -1) - (b.page ?? -1) || naturalCompare(a.path, b.path);
  });
}

function sameComponents(a: ImageRecord, b: ImageRecord): boolean {
  if ((a.page ?? -1) !== (b.page ?? -1)) return false;
  const ka = Object.keys(a.components);
  if (ka.length !== Object.keys(b.components).length) return false;
  return ka.every((k) => a.components[k] === b.components[k]);
}

function describeComponents(r: ImageRecord): string {
  return componentOrder(Object.keys(r.components))
    .map((c) => `${c}=${r.components[c]}`)
    .join(', ');
}

/** `sorted` is ordered by components first, so files with identical components are neighbours. */
function removeDuplicates(sorted: readonly ImageRecord[], lenient: boolean, skipped: SkippedFile[]): ImageRecord[] {
  const kept: ImageRecord[] = [];
  for (const r of sorted) {
    const prev = kept[kept.length - 1];
    if (prev && sameComponents(prev, r)) {
      if (!lenient) {
        throw new DiscoveryError(
          'E_UNMATCHED_FILES',
          `${prev.path} and ${r.path} both carry ${describeComponents(r)}${r.page !== undefined ? ` (page ${r.page})` : ''}; each image must have its own component values — remove or rename one of them`,
          { files: [prev.path, r.path], components: r.components },
        );
      }
      skipped.push({ path: r.path, reason: `same components as ${prev.path} (${describeComponents(r)})` });
      continue;
    }
    kept.push(r);
  }
  return kept;
}

function buildIndex(
  root: string,
  format: string,
  images: readonly ImageRecord[],
  skipped: readonly SkippedFile[],
  grid: PlateGrid | undefined,
  acquisition: AcquisitionMetadata | undefined,
): PlateIndex {
  const components: Record<string, readonly string[]> = {};
  for (const [c, v] of Object.entries(componentValues(images))) components[c] = Object.freeze(v);
  return Object.freeze({
    root,
    format,
    images: Object.freeze(images.map(freezeRecord)),
    components: Object.freeze(components),
    skipped: Object.freeze(skipped.map((s) => Object.freeze({ ...s }))),
    ...(grid ? { grid: Object.freeze({ rows: grid.rows, columns: grid.columns }) } : {}),
    ...(acquisition ? { acquisition: deepFreeze(structuredClone(acquisition)) } : {}),
  });
}

/** A frozen copy of a record (records of a cached index are frozen already and are shared as is). */
function freezeRecord(r: ImageRecord): ImageRecord {
  if (Object.isFrozen(r) && Object.isFrozen(r.components)) return r;
  return Object.freeze({
    path: r.path,
    components: Object.freeze({ ...r.components }),
    ...(r.page !== undefined ? { page: r.page } : {}),
    ...(r.sample !== undefined ? { sample: r.sample } : {}),
  });
}

function filterIndex(base: PlateIndex, filters: Readonly<Record<string, KeyFilter>>): PlateIndex {
  const entries = Object.entries(filters);
  if (entries.length === 0) return base;
  const allowed = new Map<string, Set<string>>();
  for (const [c, f] of entries) {
    const values = base.components[c];
    if (values === undefined) {
      throw new ConfigError(`filter on component '${c}', which this ${base.format} plate does not have; it has: ${Object.keys(base.components).join(', ')}`, {
        component: c,
      });
    }
    allowed.set(c, new Set(applyFilter(c, values, f)));
  }
  const images = base.images.filter((r) => entries.every(([c]) => allowed.get(c)!.has(r.components[c]!)));
  if (images.length === 0) {
    const shown = entries.map(([c, f]) => `${c}: ${typeof f === 'function' ? '(function)' : JSON.stringify(f)}`).join('; ');
    throw new DiscoveryError('E_DISCOVERY_EMPTY', `filters (${shown}) match none of the ${base.images.length} images in ${base.root}`, {
      path: base.root,
    });
  }
  // Records stay sorted and are shared with the cached index; only the arrays around them are new.
  return buildIndex(base.root, base.format, images, base.skipped, base.grid, base.acquisition);
}
