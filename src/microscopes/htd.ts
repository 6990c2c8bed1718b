/**
 * Reader for the MetaXpress / ImageXpress `.HTD` plate file: plain text, one `"Key", value, …`
 * entry per line, e.g.
 *
 * ```
 * "HTSInfoFile", Version 1.0
 * "XWells", 12
 * "YWells", 8
 * "WellsSelection1", FALSE, TRUE, …
 * "Sites", TRUE
 * "XSites", 2
 * "NWavelengths", 2
 * "WaveName1", "DAPI"
 * ```
 *
 * Only what plateflow uses is interpreted; every entry is kept in `entries` as text.
 *
 * @module
 */
import type { PlateGrid } from './types.js';
import { wellId } from '../components/wells.js';

export interface HtdInfo {
  /** Every entry: key → its values as text (quotes removed). */
  readonly entries: Readonly<Record<string, readonly string[]>>;
  /** columns = XWells, rows = YWells, when both are positive integers. */
  readonly grid?: PlateGrid;
  /** Sites per well (XSites × YSites) when `"Sites", TRUE`; 1 when `"Sites", FALSE`. */
  readonly sitesPerWell?: number;
  /** WaveName1…WaveNameN, in order. */
  readonly wavelengths: readonly string[];
  /** Wells marked TRUE in WellsSelection1…N, in row-major order (empty when there is no selection). */
  readonly selectedWells: readonly string[];
}

function splitLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      const stop = end < 0 ? line.length : end;
      out.push(line.slice(i + 1, stop));
      i = stop + 1;
      const comma = line.indexOf(',', i);
      i = comma < 0 ? line.length + 1 : comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      const stop = comma < 0 ? line.length : comma;
      out.push(line.slice(i, stop).trim());
      i = stop + 1;
    }
  }
  return out;
}

function positiveInt(values: readonly string[] | undefined): number | undefined {
  const v = values?.[0];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}

const isTrue = (v: string | undefined): boolean => v !== undefined && v.toUpperCase() === 'TRUE';

/** Parses the text of an `.HTD` file. Never throws: unknown or malformed lines are kept or ignored. */
export function parseHtd(text: string): HtdInfo {
  const entries: Record<string, string[]> = {};
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const [key, ...values] = splitLine(line);
    if (key === undefined || key === '' || key in entries) continue;
    entries[key] = values;
  }
  const columns = positiveInt(entries['XWells']);
  const rows = positiveInt(entries['YWells']);
  const grid = columns !== undefined && rows !== undefined ? { rows, columns } : undefined;

  let sitesPerWell: number | undefined;
  if (entries['Sites'] !== undefined) {
    sitesPerWell = isTrue(entries['Sites'][0]) ? (positiveInt(entries['XSites']) ?? 1) * (positiveInt(entries['YSites']) ?? 1) : 1;
  }

  const wavelengths: string[] = [];
  const nWaves = positiveInt(entries['NWavelengths']) ?? 0;
  for (let i = 1; entries[`WaveName${i}`] !== undefined || i <= nWaves; i++) {
    const name = entries[`WaveName${i}`]?.[0];
    if (name === undefined) break;
    wavelengths.push(name);
  }

  const selectedWells: string[] = [];
  for (let r = 1; entries[`WellsSelection${r}`] !== undefined; r++) {
    entries[`WellsSelection${r}`]!.forEach((v, c) => {
      if (isTrue(v)) selectedWells.push(wellId(r - 1, c + 1));
    });
  }
  return { entries, ...(grid ? { grid } : {}), ...(sitesPerWell !== undefined ? { sitesPerWell } : {}), wavelengths, selectedWells };
}
