/**
 * Acquisition metadata of ImageXpress plates: wavelength names from the `.HTD` plate file, and the
 * per-image metadata MetaXpress writes into each TIFF's ImageDescription tag:
 *
 * ```
 * <MetaData>
 *   <prop id="ApplicationName" type="string" value="MetaXpress"/>
 *   <PlaneInfo>
 *     <prop id="spatial-calibration-x" type="float" value="0.65"/>
 *     <prop id="spatial-calibration-y" type="float" value="0.65"/>
 *     <prop id="spatial-calibration-units" type="string" value="um"/>
 *     <prop id="wavelength" type="int" value="452"/>
 *     <prop id="_IllumSetting_" type="string" value="DAPI"/>
 *     <prop id="z-position" type="float" value="8123.4"/>
 *   </PlaneInfo>
 * </MetaData>
 * ```
 *
 * Only one image per channel is read (plus one more plane for the z step): the calibration is a
 * property of the objective and camera, the same on every image of a channel, and a plate can hold
 * hundreds of thousands of images.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readTiffDescription } from '../storage/tiff-description.js';
import { parseHtd } from './htd.js';
import type { AcquisitionMetadata, PlateRecords } from './types.js';
import { parseXml, type XmlElement } from './xml.js';

/** What one MetaXpress description says. Lengths in micrometres, wavelength in nanometres. */
export interface MetaXpressPlane {
  readonly pixelSize?: { readonly x: number; readonly y: number };
  readonly wavelength?: number;
  /** The illumination setting's name, e.g. `DAPI`. */
  readonly name?: string;
  readonly zPosition?: number;
}

const MICROMETRE_UNITS = new Set(['um', 'µm', 'μm', 'micron', 'microns', 'micrometer', 'micrometre']);

function props(root: XmlElement): Map<string, string> {
  const out = new Map<string, string>();
  const todo = [root];
  while (todo.length > 0) {
    const e = todo.shift()!;
    const id = e.attributes['id'];
    const value = e.attributes['value'];
    if (e.name === 'prop' && id !== undefined && value !== undefined && !out.has(id)) out.set(id, value.trim());
    todo.push(...e.children);
  }
  return out;
}

const positive = (v: string | undefined): number | undefined => {
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

/** The metadata of a MetaXpress ImageDescription, or undefined when the text is not one. */
export function parseMetaXpressDescription(text: string): MetaXpressPlane | undefined {
  if (!text.trimStart().startsWith('<')) return undefined;
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch {
    return undefined;
  }
  if (root.name !== 'MetaData') return undefined;
  const p = props(root);
  const units = (p.get('spatial-calibration-units') ?? 'um').toLowerCase();
  const x = positive(p.get('spatial-calibration-x'));
  const y = positive(p.get('spatial-calibration-y')) ?? x;
  const z = Number(p.get('z-position') ?? NaN);
  const wavelength = positive(p.get('wavelength'));
  const name = p.get('_IllumSetting_') || p.get('image-name') || undefined;
  return {
    ...(x !== undefined && y !== undefined && MICROMETRE_UNITS.has(units) ? { pixelSize: { x, y } } : {}),
    ...(wavelength !== undefined ? { wavelength } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(Number.isFinite(z) ? { zPosition: z } : {}),
  };
}

async function describe(root: string, relPath: string): Promise<MetaXpressPlane | undefined> {
  try {
    const text = await readTiffDescription(path.join(root, ...relPath.split('/')));
    return text === undefined ? undefined : parseMetaXpressDescription(text);
  } catch {
    // Metadata is a bonus: an unreadable image is reported when a pipeline reads its pixels.
    return undefined;
  }
}

const HTD = /\.htd$/i;

/**
 * Channel names (HTD `WaveName<n>` for channel `<n>`, else MetaXpress's illumination setting),
 * wavelengths and pixel size (MetaXpress `spatial-calibration-x/y`, z step from `z-position` of
 * two planes) of an ImageXpress plate. Undefined when neither source says anything.
 */
export async function imageXpressAcquisition(root: string, records: PlateRecords, htd: string | undefined): Promise<AcquisitionMetadata | undefined> {
  const sources: string[] = [];
  const channels: Record<string, string> = {};
  if (htd !== undefined && HTD.test(htd)) {
    try {
      // HTD files are written by Windows software; latin1 decodes any byte and the keys are ASCII.
      const info = parseHtd(await readFile(path.join(root, ...htd.split('/')), 'latin1'));
      info.wavelengths.forEach((name, i) => {
        if (name !== '') channels[String(i + 1)] = name;
      });
      if (info.wavelengths.length > 0) sources.push(htd);
    } catch {
      // An unreadable plate file already fails `grid`; metadata just goes without it.
    }
  }

  const channelValues = records.components['channel'] ?? [];
  const channelOf = records.valueIndexOf('channel');
  const firstOfChannel = new Map<string, number>();
  for (let row = 0; row < records.length; row++) {
    const v = channelOf(row);
    const channel = v < 0 ? '1' : channelValues[v]!;
    if (!firstOfChannel.has(channel)) firstOfChannel.set(channel, row);
  }
  const wavelengths: Record<string, number> = {};
  let pixelSize: { x: number; y: number } | undefined;
  let firstPlane: { row: number; z: number } | undefined;
  for (const [channel, row] of firstOfChannel) {
    const plane = await describe(root, records.path(row));
    if (!plane) continue;
    if (plane.wavelength !== undefined) wavelengths[channel] = plane.wavelength;
    if (plane.name !== undefined && channels[channel] === undefined) channels[channel] = plane.name;
    pixelSize ??= plane.pixelSize;
    if (firstPlane === undefined && plane.zPosition !== undefined) firstPlane = { row, z: plane.zPosition };
  }
  if (Object.keys(wavelengths).length > 0 || pixelSize !== undefined) sources.push('MetaXpress TIFF descriptions');
  const zStep = firstPlane ? await zStepFrom(root, records, firstPlane) : undefined;
  if (sources.length === 0 && Object.keys(channels).length === 0) return undefined;
  return {
    source: sources.join(', ') || 'MetaXpress TIFF descriptions',
    ...(Object.keys(channels).length > 0 ? { channels } : {}),
    ...(Object.keys(wavelengths).length > 0 ? { wavelengths } : {}),
    ...(pixelSize ? { pixelSize: { ...pixelSize, ...(zStep !== undefined ? { z: zStep } : {}), unit: 'micrometer' as const } } : {}),
  };
}

/** Distance to the next plane of the same stack (same well, site, channel, timepoint). */
async function zStepFrom(root: string, records: PlateRecords, first: { row: number; z: number }): Promise<number | undefined> {
  const same = ['well', 'site', 'channel', 'timepoint'].map((c) => {
    const read = records.valueIndexOf(c);
    const wanted = read(first.row);
    return (row: number): boolean => read(row) === wanted;
  });
  const zValues = records.components['z'] ?? [];
  const zOf = records.valueIndexOf('z');
  const zAt = (row: number): number => Number(zValues[zOf(row)]);
  const firstZ = zAt(first.row);
  let next: number | undefined;
  for (let row = 0; row < records.length; row++) {
    if (zOf(row) === zOf(first.row) || !same.every((f) => f(row))) continue;
    const z = zAt(row);
    if (z > firstZ && (next === undefined || z < zAt(next))) next = row;
  }
  const plane = next !== undefined ? await describe(root, records.path(next)) : undefined;
  if (plane?.zPosition === undefined) return undefined;
  const steps = Math.abs(zAt(next!) - firstZ);
  const step = Math.abs(plane.zPosition - first.z) / steps;
  return step > 0 ? Number(step.toPrecision(12)) : undefined;
}
