/**
 * Opera Phenix / Operetta index files (`Index.idx.xml`, older `Index.xml`), as Harmony exports them:
 *
 * ```
 * <EvaluationInputData xmlns="http://www.perkinelmer.com/PEHH/HarmonyV5">
 *   <Plates><Plate><PlateRows>16</PlateRows><PlateColumns>24</PlateColumns>…</Plate></Plates>
 *   <Wells>…</Wells>
 *   <Maps><Map><Entry ChannelID="1"><ChannelName>HOECHST 33342</ChannelName>
 *                                   <ImageResolutionX Unit="m">2.99E-07</ImageResolutionX>…</Entry></Map></Maps>
 *   <Images>
 *     <Image><URL>r01c01f01p01-ch1sk1fk1fl1.tiff</URL><Row>1</Row><Col>1</Col><FieldID>1</FieldID>
 *            <PlaneID>1</PlaneID><TimepointID>0</TimepointID><ChannelID>1</ChannelID>
 *            <PositionX Unit="m">…</PositionX><PositionY Unit="m">…</PositionY><PositionZ Unit="m">…</PositionZ>
 *            <MeasurementTimeOffset Unit="s">0</MeasurementTimeOffset>…</Image>
 *   </Images>
 * </EvaluationInputData>
 * ```
 *
 * Channel settings (name, resolution, wavelengths) sit on each `Image` in older exports and in the
 * `Maps` entries (per `ChannelID`) in newer ones; both are read, an image's own value first.
 * Components follow the file names exactly, so an index-driven plate and a name-driven one agree:
 * site = FieldID, z = PlaneID, channel = ChannelID, timepoint = TimepointID + 1 (Harmony counts
 * timepoints from 0 but names the files `sk1`, `sk2`, …).
 *
 * @module
 */
import { wellId } from '../components/wells.js';
import type { AcquisitionMetadata, PlateGrid, StagePosition } from './types.js';
import { child, childText, children, type XmlElement } from './xml.js';

/** One `Image` entry, with what plateflow uses. Lengths are micrometres, times seconds. */
export interface PhenixImage {
  /** 0-based position in the index, for messages. */
  readonly entry: number;
  readonly url: string | undefined;
  /** Components, or the reason the entry has none. */
  readonly components: Record<string, string> | { readonly error: string };
  readonly position: StagePosition;
  readonly timeOffset: number | undefined;
}

export interface PhenixIndex {
  readonly images: readonly PhenixImage[];
  readonly grid: PlateGrid | undefined;
  readonly acquisition: AcquisitionMetadata;
}

/** Micrometres per unit of the `Unit` attributes Harmony writes (metres unless it says otherwise). */
const TO_MICROMETRES: Readonly<Record<string, number>> = { m: 1e6, mm: 1e3, um: 1, µm: 1, 'μm': 1, nm: 1e-3 };

/** Twelve significant digits: `2.99E-07 m` is 0.299 µm, not 0.29899999999999993. */
const tidy = (v: number): number => Number(v.toPrecision(12));

function micrometres(element: XmlElement | undefined): number | undefined {
  const text = element?.text.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  const factor = TO_MICROMETRES[element!.attributes['Unit'] ?? 'm'];
  return Number.isFinite(value) && factor !== undefined ? tidy(value * factor) : undefined;
}

function numberOf(element: XmlElement | undefined): number | undefined {
  const text = element?.text.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function integer(image: XmlElement, name: string, min: number): number | string {
  const text = childText(image, name);
  if (text === undefined) return `has no ${name}`;
  if (!/^\d+$/.test(text) || Number(text) < min) return `${name} "${text}" is not an integer ≥ ${min}`;
  return Number(text);
}

function componentsOf(image: XmlElement): Record<string, string> | { readonly error: string } {
  const row = integer(image, 'Row', 1);
  const col = integer(image, 'Col', 1);
  const field = integer(image, 'FieldID', 0);
  const plane = integer(image, 'PlaneID', 0);
  const timepoint = integer(image, 'TimepointID', 0);
  const channel = integer(image, 'ChannelID', 0);
  const problem = [row, col, field, plane, timepoint, channel].find((v): v is string => typeof v === 'string');
  if (problem !== undefined) return { error: problem };
  return {
    well: wellId((row as number) - 1, col as number),
    site: String(field),
    channel: String(channel),
    z: String(plane),
    timepoint: String((timepoint as number) + 1),
  };
}

/** Channel settings per ChannelID from the `Maps` entries (all maps merged, first value wins). */
function channelMaps(root: XmlElement): Map<string, XmlElement[]> {
  const out = new Map<string, XmlElement[]>();
  for (const map of children(child(root, 'Maps') ?? root, 'Map')) {
    for (const entry of children(map, 'Entry')) {
      const id = entry.attributes['ChannelID'];
      if (id === undefined) continue;
      const list = out.get(id.trim()) ?? [];
      list.push(entry);
      out.set(id.trim(), list);
    }
  }
  return out;
}

function plateGrid(root: XmlElement): PlateGrid | undefined {
  const plate = child(child(root, 'Plates') ?? root, 'Plate');
  const rows = plate && numberOf(child(plate, 'PlateRows'));
  const columns = plate && numberOf(child(plate, 'PlateColumns'));
  return rows !== undefined && columns !== undefined && Number.isInteger(rows) && Number.isInteger(columns) && rows > 0 && columns > 0 ? { rows, columns } : undefined;
}

/** The median step between consecutive plane positions, when there are at least two planes. */
function zStep(planes: ReadonlyMap<number, number>): number | undefined {
  const ordered = [...planes].sort((a, b) => a[0] - b[0]).map(([, z]) => z);
  const steps = ordered.slice(1).map((z, i) => Math.abs(z - ordered[i]!)).sort((a, b) => a - b);
  if (steps.length === 0) return undefined;
  const median = steps[Math.floor(steps.length / 2)]!;
  return median > 0 ? tidy(median) : undefined;
}

/**
 * Reads an index document.
 *
 * @throws Error with a reason a person can act on when the root is not `EvaluationInputData` or
 *   there is no `Images` element; problems of single entries are reported per image instead.
 */
export function readPhenixIndex(root: XmlElement, source: string): PhenixIndex {
  if (root.name !== 'EvaluationInputData') throw new Error(`the root element is <${root.name}>, not <EvaluationInputData>`);
  const imagesElement = child(root, 'Images');
  if (!imagesElement) throw new Error('it has no <Images> element');
  const maps = channelMaps(root);
  // A channel setting: the image's own element, else the Maps entry of its channel.
  const setting = (image: XmlElement, channel: string | undefined, name: string): XmlElement | undefined =>
    child(image, name) ?? (channel === undefined ? undefined : maps.get(channel)?.map((e) => child(e, name)).find((e) => e !== undefined));

  const images: PhenixImage[] = [];
  const names: Record<string, string> = {};
  const wavelengths: Record<string, number> = {};
  const sites: Record<string, StagePosition> = {};
  const planeZ: Record<string, number> = {};
  const timepoints: Record<string, number> = {};
  let pixelX: number | undefined;
  let pixelY: number | undefined;
  // Plane positions of the first stack (first well, field, timepoint and channel) give the z step.
  let stackKey: string | undefined;
  const stack = new Map<number, number>();

  children(imagesElement, 'Image').forEach((image, entry) => {
    const components = componentsOf(image);
    const position: StagePosition = {
      ...optional('x', micrometres(child(image, 'PositionX'))),
      ...optional('y', micrometres(child(image, 'PositionY'))),
      ...optional('z', micrometres(child(image, 'PositionZ'))),
    };
    const timeOffset = numberOf(child(image, 'MeasurementTimeOffset'));
    images.push({ entry, url: childText(image, 'URL'), components, position, timeOffset });
    if ('error' in components) return;
    const { channel, site, z, timepoint, well } = components as Record<string, string>;
    const name = setting(image, channel, 'ChannelName')?.text.trim();
    if (name && names[channel!] === undefined) names[channel!] = name;
    const emission = numberOf(setting(image, channel, 'MainEmissionWavelength'));
    if (emission !== undefined && wavelengths[channel!] === undefined) wavelengths[channel!] = emission;
    pixelX ??= micrometres(setting(image, channel, 'ImageResolutionX'));
    pixelY ??= micrometres(setting(image, channel, 'ImageResolutionY'));
    if (sites[site!] === undefined && (position.x !== undefined || position.y !== undefined)) {
      sites[site!] = { ...optional('x', position.x), ...optional('y', position.y) };
    }
    if (position.z !== undefined && planeZ[z!] === undefined) planeZ[z!] = position.z;
    if (timeOffset !== undefined && timepoints[timepoint!] === undefined) timepoints[timepoint!] = timeOffset;
    const key = `${well}/${site}/${timepoint}/${channel}`;
    stackKey ??= key;
    if (key === stackKey && position.z !== undefined && !stack.has(Number(z))) stack.set(Number(z), position.z);
  });

  // Older indexes name channels only in the Maps; keep those too.
  for (const [id, entries] of maps) {
    const name = entries.map((e) => childText(e, 'ChannelName')).find((n) => n !== undefined);
    if (name !== undefined && names[id] === undefined) names[id] = name;
  }
  const z = zStep(stack);
  const acquisition: AcquisitionMetadata = {
    source,
    ...(Object.keys(names).length > 0 ? { channels: names } : {}),
    ...(Object.keys(wavelengths).length > 0 ? { wavelengths } : {}),
    ...(pixelX !== undefined ? { pixelSize: { x: pixelX, y: pixelY ?? pixelX, ...optional('z', z), unit: 'micrometer' as const } } : {}),
    ...(Object.keys(sites).length > 0 ? { sites } : {}),
    ...(Object.keys(planeZ).length > 0 ? { planes: planeZ } : {}),
    ...(Object.keys(timepoints).length > 0 ? { timepoints } : {}),
  };
  return { images, grid: plateGrid(root), acquisition };
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
