/**
 * PerkinElmer / Revvity Opera Phenix (Harmony export).
 *
 * `r<row:2>c<col:2>f<field>p<plane>-ch<channel>[sk<t>]fk1fl1.tiff`, usually in an `Images/` folder
 * beside `Index.xml` / `Index.idx.xml`. Row 1 is `A`, so `r02c05` is well `B05`; site = field,
 * z = plane, timepoint = sk (`'1'` when absent). The index XML is not needed to name the images and
 * is not read.
 *
 * @module
 */
import { wellId } from '../components/wells.js';
import { baseName, detectByParsing, stripZeros, type FormatHandler, type PlateListing } from './handler.js';

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

export const operaPhenixHandler: FormatHandler = Object.freeze({
  name: 'OperaPhenix',
  aliases: ['opera', 'phenix', 'harmony'],
  convention: 'r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk1fl1.tiff',
  components: Object.freeze(['well', 'site', 'channel', 'z', 'timepoint']),
  detect: (listing: PlateListing) =>
    detectByParsing(operaPhenixHandler, listing, (reason) =>
      listing.files.some((f) => INDEX_XML.test(f)) ? `${reason} (an Index.xml is present, but no image follows the Phenix naming)` : reason,
    ),
  parse,
});
