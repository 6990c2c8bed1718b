/**
 * `discoverPlate`: from a folder to a `PlateIndex` — walk once, pick the format, parse every image
 * name once into columns (`record-columns.ts`), check the result, sort it (`record-table.ts`), and
 * cache it. No record object is made unless someone asks for `images`.
 *
 * @module
 */
import path from 'node:path';
import { applyFilter, type KeyFilter } from '../components/filters.js';
import { naturalCompare } from '../components/natural-sort.js';
import { inferGrid } from '../components/wells.js';
import { deepFreeze } from '../compiler/plan.js';
import { ConfigError, DiscoveryError, StorageError } from '../errors.js';
import { detectFormat } from './detect.js';
import { imageFiles, isTiffPath, type FormatHandler, type HandlerIndex, type PlateListing } from './handler.js';
import { listPlate } from './listing.js';
import { createPatternHandler } from './pattern.js';
import { createPlateflowOutputHandler } from './plateflow-output.js';
import { RecordColumns } from './record-columns.js';
import { componentOrder, RecordTable } from './record-table.js';
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
 * because a `PlateIndex` cannot be changed: it is frozen, its records are frozen when built, and
 * its columns are reachable only through read methods. Concurrent
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
 * (numeric components numerically). The result is frozen and cached (see `clearComponentCache`); its
 * `records` hold the images as columns, and `images` builds the record objects on first access.
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

  const collected = await collect(handler, root, listing, lenient);
  const skipped: SkippedFile[] = [...(listing.skipped ?? []), ...collected.skipped];
  if (collected.unmatched.length > 0) {
    if (!lenient) throw unmatchedError(root, handler, collected.unmatched);
    skipped.push(...collected.unmatched);
  }

  const sorted = RecordTable.sorted(await expandSamples(root, collected.columns, color));
  const kept = sorted.withoutDuplicates((a, b) => {
    const r = sorted.record(b);
    const first = sorted.path(a);
    if (!lenient) {
      throw new DiscoveryError(
        'E_UNMATCHED_FILES',
        `${first} and ${r.path} both carry ${describeComponents(r)}${r.page !== undefined ? ` (page ${r.page})` : ''}; each image must have its own component values — remove or rename one of them`,
        { files: [first, r.path], components: r.components },
      );
    }
    skipped.push({ path: r.path, reason: `same components as ${first} (${describeComponents(r)})` });
  });
  if (kept.length === 0) {
    throw new DiscoveryError(
      'E_DISCOVERY_EMPTY',
      `no ${handler.name} images in ${root}${skipped.length > 0 ? `; ${skipped.length} file${skipped.length === 1 ? ' was' : 's were'} skipped, e.g. ${skipped[0]!.path}: ${skipped[0]!.reason}` : ''}`,
      { path: root, format: handler.name },
    );
  }
  const grid = (await readGrid(handler, root, listing)) ?? collected.grid ?? inferGrid(kept.components['well'] ?? []);
  skipped.sort((a, b) => naturalCompare(a.path, b.path));
  const acquisition = collected.acquisition ?? (await handler.acquisition?.(root, listing, kept));
  return buildIndex(root, collected.format ?? handler.name, kept, skipped, grid, acquisition);
}

interface Collected extends Omit<HandlerIndex, 'images' | 'skipped'> {
  readonly columns: RecordColumns;
  readonly skipped: readonly SkippedFile[];
}

/** The plate's records, unsorted: from the handler's metadata when it reads any, else from each name. */
async function collect(handler: FormatHandler, root: string, listing: PlateListing, lenient: boolean): Promise<Collected> {
  const indexed = await handler.index?.(root, listing, { lenient });
  if (indexed) {
    const { images, ...rest } = indexed;
    return { ...rest, skipped: indexed.skipped ?? [], columns: RecordColumns.fromRecords(images) };
  }
  const columns = new RecordColumns();
  const unmatched: SkippedFile[] = [];
  for (const f of imageFiles(handler, listing)) {
    if (handler.parseInto?.(f, columns) === true) continue;
    const components = handler.parse(f);
    if (components) columns.add(f, components);
    else unmatched.push({ path: f, reason: `does not match ${handler.convention}` });
  }
  return { columns, unmatched, skipped: [] };
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

function describeComponents(r: ImageRecord): string {
  return componentOrder(Object.keys(r.components))
    .map((c) => `${c}=${r.components[c]}`)
    .join(', ');
}

/**
 * The index around `records`. `images` is a getter that builds the record objects on first use;
 * `records` is not enumerable, so a spread copy of an index (which may replace `images`) never
 * carries columns that disagree with its images.
 */
function buildIndex(
  root: string,
  format: string,
  records: RecordTable,
  skipped: readonly SkippedFile[],
  grid: PlateGrid | undefined,
  acquisition: AcquisitionMetadata | undefined,
): PlateIndex {
  const index = {
    root,
    format,
    get images(): readonly ImageRecord[] {
      return records.images();
    },
    components: records.components,
    skipped: Object.freeze(skipped.map((s) => Object.freeze({ ...s }))),
    ...(grid ? { grid: Object.freeze({ rows: grid.rows, columns: grid.columns }) } : {}),
    ...(acquisition ? { acquisition: deepFreeze(structuredClone(acquisition)) } : {}),
  };
  Object.defineProperty(index, 'records', { value: records, enumerable: false });
  return Object.freeze(index) as PlateIndex;
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
  const table = base.records as RecordTable;
  const kept = table.filter(allowed);
  if (kept.length === 0) {
    const shown = entries.map(([c, f]) => `${c}: ${typeof f === 'function' ? '(function)' : JSON.stringify(f)}`).join('; ');
    throw new DiscoveryError('E_DISCOVERY_EMPTY', `filters (${shown}) match none of the ${table.length} images in ${base.root}`, {
      path: base.root,
    });
  }
  // The columns are shared with the cached index; only the row selection is new.
  return buildIndex(base.root, base.format, kept, base.skipped, base.grid, base.acquisition);
}
