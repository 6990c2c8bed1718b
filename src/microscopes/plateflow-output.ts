/**
 * plateflow's own output folder, read back as an input plate (so pipelines can be chained).
 *
 * Two shapes are accepted:
 * - the output root, holding `plateflow_metadata.json`: the sub-directory marked `main: true` (or the
 *   one named by the `subdirectory` option) is the plate, and its `files` map gives each file's
 *   components — file names are not parsed. Paths become `<subdir>/<file>`.
 * - one sub-directory on its own (no metadata file): every TIFF directly inside it must be named the
 *   way plateflow writes them, `well-A01_site-1_channel-2.tif` (see `storage/output-naming.ts`).
 *
 * A sub-directory written with `--output-format ome-zarr` (`backend: 'zarr'`, e.g. `2_blur.zarr`) is
 * an OME-Zarr plate: it is indexed by the OME-Zarr handler (components from its metadata), its
 * records become `<subdir>/<row>/<col>/<field>/0` + page, and the plate's format is `OME-Zarr`, so
 * pipelines and `convert` read its planes through the zarr backend.
 *
 * The metadata file is data, not code we trust: every sub-directory and file name in it goes
 * through `assertSafeRelativePath`, so a `..` in it raises `UnsafePathError` instead of reading
 * outside the plate.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_COMPONENT_VALUE, STANDARD_COMPONENTS } from '../components/names.js';
import { ConfigError, DiscoveryError } from '../errors.js';
import { acquisitionSchema } from './acquisition-schema.js';
import type { PlateflowMetadata } from '../storage/metadata-types.js';
import { assertSafeRelativePath } from '../storage/safe-path.js';
import { baseName, isTiffPath, type DetectResult, type FormatHandler, type HandlerIndex, type PlateListing } from './handler.js';
import { parseOutputFileName } from '../storage/output-naming.js';
import { OME_ZARR_FORMAT, omeZarrHandler } from './ome-zarr.js';
import type { ImageRecord, PlateGrid, SkippedFile } from './types.js';

export const METADATA_FILE = 'plateflow_metadata.json';

const CONVENTION = `${METADATA_FILE}, or file names like well-A01_site-1_channel-1.tif`;

const gridSchema = z.object({ rows: z.number().int().positive(), columns: z.number().int().positive() });
const metadataSchema = z.object({
  format: z.literal('plateflow'),
  version: z.literal(1),
  subdirectories: z.record(
    z.string(),
    z.object({
      handler: z.string(),
      sourceFormat: z.string(),
      backend: z.enum(['disk', 'zarr']),
      main: z.boolean(),
      grid: gridSchema.nullable(),
      acquisition: acquisitionSchema.optional(),
      components: z.record(z.string(), z.array(z.string())),
      files: z.record(z.string(), z.record(z.string(), z.string())),
    }),
  ),
});

/** Every standard component present; the ones a file does not name are `'1'`. */
function withDefaults(components: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of STANDARD_COMPONENTS) out[c] = components[c] ?? DEFAULT_COMPONENT_VALUE;
  for (const [k, v] of Object.entries(components)) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Our own file name, or undefined. Every name plateflow writes carries a `well-` pair (discovery
 * gives every image a well), and requiring it keeps ordinary names such as `holiday-photo.tif`
 * (which happen to read as `holiday=photo`) from passing for plateflow output.
 */
function parseOwnName(fileName: string): Record<string, string> | undefined {
  const parsed = parseOutputFileName(fileName);
  return parsed && parsed['well'] !== undefined ? parsed : undefined;
}

function parse(relPath: string): Record<string, string> | undefined {
  const parsed = parseOwnName(baseName(relPath));
  return parsed ? withDefaults(parsed) : undefined;
}

function detect(listing: PlateListing): DetectResult {
  if (listing.files.includes(METADATA_FILE)) return { ok: true };
  // Stops at the first top-level TIFF not named as plateflow names outputs (on a large plate, the first one).
  let top = false;
  let bad: string | undefined;
  for (const f of listing.files) {
    if (f.includes('/') || !isTiffPath(f)) continue;
    top = true;
    if (parseOwnName(f) === undefined) {
      bad = f;
      break;
    }
  }
  if (top && bad === undefined) return { ok: true };
  const example = bad ?? listing.files.find(isTiffPath) ?? listing.files[0];
  return {
    ok: false,
    reason: `no ${METADATA_FILE}, and not every TIFF in the folder is named like well-A01_site-1_channel-1.tif${example !== undefined ? `; e.g. '${example}'` : ''}`,
  };
}

async function readMetadata(root: string): Promise<PlateflowMetadata> {
  const file = path.join(root, METADATA_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new DiscoveryError('E_FORMAT_UNKNOWN', `${file} is not readable JSON: ${(err as Error).message}`, { file });
  }
  const result = metadataSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new DiscoveryError('E_FORMAT_UNKNOWN', `${file} is not plateflow metadata (version 1): at ${where}: ${issue.message}`, { file, jsonPath: where });
  }
  return result.data as PlateflowMetadata;
}

function chooseSubdirectory(metadata: PlateflowMetadata, root: string, wanted: string | undefined): string {
  const names = Object.keys(metadata.subdirectories);
  const file = path.join(root, METADATA_FILE);
  if (wanted !== undefined) {
    if (!(wanted in metadata.subdirectories)) {
      throw new ConfigError(`sub-directory '${wanted}' is not in ${file}; it lists: ${names.join(', ') || '(none)'}`, { file, subdirectory: wanted });
    }
    return wanted;
  }
  const main = names.filter((n) => metadata.subdirectories[n]!.main);
  if (main.length === 1) return main[0]!;
  if (main.length === 0 && names.length === 1) return names[0]!;
  if (names.length === 0) throw new DiscoveryError('E_DISCOVERY_EMPTY', `${file} lists no sub-directories: the run wrote no output yet`, { file });
  throw new DiscoveryError(
    'E_FORMAT_UNKNOWN',
    `${file} marks ${main.length === 0 ? 'no' : main.length} sub-directories as main; choose one with the subdirectory option: ${(main.length > 0 ? main : names).join(', ')}`,
    { file },
  );
}

function makeIndex(wantedSubdirectory: string | undefined) {
  return async (root: string, listing: PlateListing): Promise<HandlerIndex | undefined> => {
    if (!listing.files.includes(METADATA_FILE)) return undefined;
    const metadata = await readMetadata(root);
    const subdir = assertSafeRelativePath(chooseSubdirectory(metadata, root, wantedSubdirectory));
    const entry = metadata.subdirectories[subdir]!;
    const acquisition = entry.acquisition ? { acquisition: entry.acquisition } : {};
    if (entry.backend === 'zarr') return { ...(await indexZarrSubdirectory(root, subdir, listing, entry.grid)), ...acquisition };
    const onDisk = new Set(listing.files);
    const images: ImageRecord[] = [];
    const skipped: SkippedFile[] = [];
    const listed = new Set<string>();
    for (const [fileName, components] of Object.entries(entry.files)) {
      const rel = assertSafeRelativePath(`${subdir}/${assertSafeRelativePath(fileName)}`);
      listed.add(rel);
      if (onDisk.has(rel)) images.push({ path: rel, components: withDefaults(components) });
      else skipped.push({ path: rel, reason: `listed in ${METADATA_FILE} but missing on disk` });
    }
    // A file the writer renamed into place but whose metadata update never happened (the task was
    // killed in between) is still ours if its name says so; anything else in the folder is unmatched.
    const unmatched: SkippedFile[] = [];
    const prefix = `${subdir}/`;
    for (const f of listing.files) {
      if (!f.startsWith(prefix) || listed.has(f) || !isTiffPath(f)) continue;
      const components = parse(f);
      if (components) images.push({ path: f, components });
      else unmatched.push({ path: f, reason: `not listed in ${METADATA_FILE} and not named like well-A01_site-1_channel-1.tif` });
    }
    return { images, unmatched, skipped, ...(entry.grid ? { grid: entry.grid } : {}), ...acquisition };
  };
}

/** An OME-Zarr output sub-directory, indexed from its NGFF metadata, with paths relative to the output root. */
async function indexZarrSubdirectory(root: string, subdir: string, listing: PlateListing, grid: PlateGrid | null): Promise<HandlerIndex> {
  const prefix = `${subdir}/`;
  const inner = await omeZarrHandler.index!(path.join(root, subdir), { root: path.join(root, subdir), files: listing.files.filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length)) });
  if (!inner) throw new DiscoveryError('E_FORMAT_UNKNOWN', `sub-directory '${subdir}' of ${root} is not an OME-Zarr plate`, { path: path.join(root, subdir) });
  const moved = <T extends { readonly path: string }>(r: T): T => ({ ...r, path: `${prefix}${r.path}` });
  return { images: inner.images.map(moved), unmatched: inner.unmatched.map(moved), format: OME_ZARR_FORMAT, ...(grid ? { grid } : {}) };
}

/**
 * A handler for plateflow output that reads `subdirectory` instead of the one marked main.
 * `plateflowOutputHandler` is the same with no override.
 */
export function createPlateflowOutputHandler(options: { readonly subdirectory?: string } = {}): FormatHandler {
  return Object.freeze({
    name: 'plateflow',
    aliases: ['plateflow-output', 'output'],
    convention: CONVENTION,
    components: STANDARD_COMPONENTS,
    detect,
    parse,
    index: makeIndex(options.subdirectory),
  });
}

export const plateflowOutputHandler: FormatHandler = createPlateflowOutputHandler();
