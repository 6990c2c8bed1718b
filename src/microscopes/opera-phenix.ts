/**
 * PerkinElmer / Revvity Opera Phenix and Operetta (Harmony export).
 *
 * `r<row:2>c<col:2>f<field>p<plane>-ch<channel>[sk<t>]fk1fl1.tiff`, usually in an `Images/` folder
 * beside `Index.idx.xml` (or `Index.xml`). Row 1 is `A`, so `r02c05` is well `B05`; site = field,
 * z = plane, timepoint = sk (`'1'` when absent).
 *
 * When the plate has an index file, it describes the plate: each `Image` entry's URL (relative to
 * the index file's folder) gets its components from the entry, and the index's channel names,
 * pixel size, field / plane positions and timepoint offsets become the plate's `acquisition`
 * (see `phenix-index.ts`). TIFFs the index does not list are named from their file names, as
 * without an index. An index that cannot be read fails discovery naming the file (strict), or is
 * reported as skipped while the file names are used (lenient).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { wellId } from '../components/wells.js';
import { DiscoveryError, UnsafePathError } from '../errors.js';
import { assertSafeRelativePath } from '../storage/safe-path.js';
import { baseName, detectByParsing, imageFiles, stripZeros, type FormatHandler, type HandlerIndex, type IndexOptions, type PlateListing } from './handler.js';
import { readPhenixIndex } from './phenix-index.js';
import type { ImageRecord, SkippedFile } from './types.js';
import { parseXml } from './xml.js';

const NAME = /^r(\d{2,})c(\d{2,})f(\d+)p(\d+)-ch(\d+)(?:sk(\d+))?fk\d+fl\d+\.tiff?$/i;
const INDEX_XML = /(^|\/)Index(\.idx)?\.xml$/i;

function parse(relPath: string): Record<string, string> | undefined {
  const m = NAME.exec(baseName(relPath));
  if (!m) return undefined;
  const row = Number(m[1]);
  const column = Number(m[2]);
  if (row < 1 || column < 1) return undefined;
  return {
    well: wellId(row - 1, column),
    site: stripZeros(m[3]!),
    channel: stripZeros(m[5]!),
    z: stripZeros(m[4]!),
    timepoint: stripZeros(m[6] ?? '1'),
  };
}

/** The plate's index file: the shallowest, `Index.idx.xml` before `Index.xml`. */
export function findPhenixIndex(listing: PlateListing): string | undefined {
  const rank = (f: string) => f.split('/').length * 2 + (/\.idx\.xml$/i.test(f) ? 0 : 1);
  return listing.files.filter((f) => INDEX_XML.test(f)).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))[0];
}

async function index(root: string, listing: PlateListing, opts: IndexOptions = {}): Promise<HandlerIndex | undefined> {
  const indexFile = findPhenixIndex(listing);
  if (indexFile === undefined) return undefined;
  const abs = path.join(root, ...indexFile.split('/'));
  const text = await readFile(abs, 'utf8');
  // An empty index (a placeholder left by a copy) describes nothing; the file names still do.
  if (text.trim() === '') return { ...byName(listing, new Set()), skipped: [{ path: indexFile, reason: 'empty index file; components taken from file names' }] };
  let read;
  try {
    read = readPhenixIndex(parseXml(text), indexFile);
  } catch (err) {
    const reason = `not a readable Opera Phenix index: ${(err as Error).message}`;
    if (!opts.lenient) {
      throw new DiscoveryError('E_METADATA_INVALID', `${abs}: ${reason}; repair or remove it, or discover leniently to name the images from their file names`, { file: abs });
    }
    return { ...byName(listing, new Set()), skipped: [{ path: indexFile, reason: `${reason}; components taken from file names` }] };
  }

  const dir = indexFile.includes('/') ? indexFile.slice(0, indexFile.lastIndexOf('/') + 1) : '';
  const onDisk = new Set(listing.files);
  const images: ImageRecord[] = [];
  const unmatched: SkippedFile[] = [];
  const skipped: SkippedFile[] = [];
  const listed = new Set<string>();
  for (const image of read.images) {
    const where = `entry ${image.entry + 1} of ${indexFile}`;
    if (image.url === undefined) {
      skipped.push({ path: indexFile, reason: `${where} has no URL` });
      continue;
    }
    let rel: string;
    try {
      rel = assertSafeRelativePath(`${dir}${image.url}`);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      skipped.push({ path: indexFile, reason: `${where}: URL ${JSON.stringify(image.url)} is not a file inside the plate` });
      continue;
    }
    listed.add(rel);
    if ('error' in image.components) unmatched.push({ path: rel, reason: `${where} ${image.components.error}` });
    else if (onDisk.has(rel)) images.push({ path: rel, components: image.components });
    else skipped.push({ path: rel, reason: `listed in ${indexFile} but missing on disk` });
  }
  const rest = byName(listing, listed);
  return {
    images: [...images, ...rest.images],
    unmatched: [...unmatched, ...rest.unmatched],
    skipped,
    ...(read.grid ? { grid: read.grid } : {}),
    acquisition: read.acquisition,
  };
}

/** Records from file names for the image files not in `listed`. */
function byName(listing: PlateListing, listed: ReadonlySet<string>): { images: ImageRecord[]; unmatched: SkippedFile[] } {
  const images: ImageRecord[] = [];
  const unmatched: SkippedFile[] = [];
  for (const f of imageFiles(operaPhenixHandler, listing)) {
    if (listed.has(f)) continue;
    const components = parse(f);
    if (components) images.push({ path: f, components });
    else unmatched.push({ path: f, reason: `${listed.size > 0 ? 'not in the index and ' : ''}does not match ${operaPhenixHandler.convention}` });
  }
  return { images, unmatched };
}

export const operaPhenixHandler: FormatHandler = Object.freeze({
  name: 'OperaPhenix',
  aliases: ['opera', 'phenix', 'harmony', 'operetta'],
  convention: 'r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk1fl1.tiff',
  components: Object.freeze(['well', 'site', 'channel', 'z', 'timepoint']),
  detect: (listing: PlateListing) =>
    detectByParsing(operaPhenixHandler, listing, (reason) =>
      listing.files.some((f) => INDEX_XML.test(f)) ? `${reason} (an Index.xml is present, but no image follows the Phenix naming)` : reason,
    ),
  parse,
  index,
});
