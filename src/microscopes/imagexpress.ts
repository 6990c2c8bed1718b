/**
 * Molecular Devices ImageXpress / MetaXpress plates.
 *
 * `[<prefix>_]<well>[_s<site>][_w<channel>][<GUID>][_z<z>][_t<t>].tif`, optionally under
 * `TimePoint_<t>/ZStep_<z>/` folders, with a `.HTD` plate file. Real MetaXpress exports leave out
 * `_s` when a well has one site and `_w` when there is one wavelength, and some append a GUID to the
 * wavelength; all of those parse. Thumbnails (`…_thumb<GUID>.tif`) are not data and are ignored.
 *
 * Values: wells are normalized to `A01` form (so `A1` and `A01` are one well); site and channel
 * lose leading zeros; `z` and `timepoint` come from the file name, else from the folders, else `'1'`.
 * Channel names, wavelengths and pixel size come from the `.HTD` and MetaXpress TIFF tags
 * (`metaxpress.ts`).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { normalizeWellId } from '../components/wells.js';
import { baseName, detectByParsing, stripZeros, type FormatHandler, type PlateListing } from './handler.js';
import { parseHtd } from './htd.js';
import { imageXpressAcquisition } from './metaxpress.js';
import { scanImageXpressName } from './imagexpress-scan.js';
import type { AcquisitionMetadata, PlateGrid, PlateRecords } from './types.js';

const GUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
// The prefix group is lazy-optional (`??`) so a name is first read without a prefix: otherwise
// `A01_s1_w1.tif` could be read as prefix `A01`, well `s1`. Wells are upper case and the `_s`/`_w`/
// `_z`/`_t` tags lower case, as MetaXpress writes them; the extension may be in any case.
const NAME = new RegExp(
  `^(?:(?<prefix>.*?)_)??(?<well>[A-Z]{1,2}\\d{1,3})(?:_s(?<site>\\d+))?(?:_w(?<channel>\\d+))?(?:${GUID})?(?:_z(?<z>\\d+))?(?:_t(?<t>\\d+))?\\.[tT][iI][fF][fF]?$`,
);
const THUMB = /_thumb/i;
const TIMEPOINT_DIR = /^TimePoint_(\d+)$/i;
const ZSTEP_DIR = /^ZStep_(\d+)$/i;
const HTD = /\.htd$/i;

function parse(relPath: string): Record<string, string> | undefined {
  const name = baseName(relPath);
  if (THUMB.test(name)) return undefined;
  const m = NAME.exec(name);
  if (!m?.groups) return undefined;
  const g = m.groups;
  const well = normalizeWellId(g['well']!);
  if (well === undefined) return undefined;
  let folderT: string | undefined;
  let folderZ: string | undefined;
  const dirs = relPath.split('/').slice(0, -1);
  for (const d of dirs) {
    const t = TIMEPOINT_DIR.exec(d);
    if (t) folderT = t[1];
    const z = ZSTEP_DIR.exec(d);
    if (z) folderZ = z[1];
  }
  const num = (v: string | undefined, fallback: string | undefined): string => stripZeros(v ?? fallback ?? '1');
  return {
    well,
    site: num(g['site'], undefined),
    channel: num(g['channel'], undefined),
    z: num(g['z'], folderZ),
    timepoint: num(g['t'], folderT),
  };
}

/** The `.HTD` file of the plate: the shallowest one, first in sorted order. */
export function findHtd(listing: PlateListing): string | undefined {
  let best: string | undefined;
  let bestDepth = Infinity;
  for (const f of listing.files) {
    if (!HTD.test(f)) continue;
    const depth = f.split('/').length;
    if (depth < bestDepth) {
      best = f;
      bestDepth = depth;
    }
  }
  return best;
}

async function grid(root: string, listing: PlateListing): Promise<PlateGrid | undefined> {
  const htd = findHtd(listing);
  if (htd === undefined) return undefined;
  // HTD files are written by Windows software; latin1 decodes any byte and the keys are ASCII.
  const text = await readFile(path.join(root, ...htd.split('/')), 'latin1');
  return parseHtd(text).grid;
}

function acquisition(root: string, listing: PlateListing, records: PlateRecords): Promise<AcquisitionMetadata | undefined> {
  return imageXpressAcquisition(root, records, findHtd(listing));
}

export const imageXpressHandler: FormatHandler = Object.freeze({
  name: 'ImageXpress',
  aliases: ['ix', 'metaxpress', 'imagexpress'],
  convention: '<prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif',
  components: Object.freeze(['well', 'site', 'channel', 'z', 'timepoint']),
  ignores: (relPath: string) => THUMB.test(baseName(relPath)),
  detect: (listing: PlateListing) => detectByParsing(imageXpressHandler, listing),
  parse,
  parseInto: scanImageXpressName,
  grid,
  acquisition,
});
