/**
 * Thermo Cellomics ArrayScan.
 *
 * `<plate>_<well><f<field:2>>d<channel>.TIF`, e.g. `AS_09047_050428030001_O01f00d2.TIF` → well O01,
 * field 0, channel 2. The plate prefix may itself contain `_`.
 *
 * Decision: the site is the field number exactly as the instrument counts it, without leading
 * zeros — ArrayScan fields start at 0, so sites are `'0'`, `'1'`, `'2'` (not renumbered from 1).
 * Keeping the instrument's numbering means a site value can always be traced back to its file. The
 * channel is the `d` digit as is; z and timepoint are `'1'` (ArrayScan names carry neither).
 *
 * @module
 */
import { normalizeWellId } from '../components/wells.js';
import { baseName, detectByParsing, stripZeros, type FormatHandler, type PlateListing } from './handler.js';

const NAME = /^(?<plate>.+?)_(?<well>[A-Za-z]{1,2}\d{1,3})f(?<field>\d{2,})d(?<channel>\d+)\.tiff?$/i;

function parse(relPath: string): Record<string, string> | undefined {
  const m = NAME.exec(baseName(relPath));
  if (!m?.groups) return undefined;
  const well = normalizeWellId(m.groups['well']!);
  if (well === undefined) return undefined;
  return {
    well,
    site: stripZeros(m.groups['field']!),
    channel: stripZeros(m.groups['channel']!),
    z: '1',
    timepoint: '1',
  };
}

export const arrayScanHandler: FormatHandler = Object.freeze({
  name: 'ArrayScan',
  aliases: ['cellomics'],
  convention: '<plate>_<well>f<field:2>d<channel>.TIF',
  components: Object.freeze(['well', 'site', 'channel', 'z', 'timepoint']),
  detect: (listing: PlateListing) => detectByParsing(arrayScanHandler, listing),
  parse,
});
