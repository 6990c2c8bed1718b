/** Opera Phenix plates for tests: an `Index.idx.xml` in the shape Harmony 5 exports, and its TIFFs. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clearComponentCache } from '../src/microscopes/discover.js';
import { writeTiff } from '../src/storage/tiff-write.js';

export interface Entry {
  row: number;
  col: number;
  field: number;
  plane: number;
  timepoint: number;
  channel: number;
  url?: string;
}

export const url = (e: Entry) =>
  e.url ?? `r${String(e.row).padStart(2, '0')}c${String(e.col).padStart(2, '0')}f${String(e.field).padStart(2, '0')}p${String(e.plane).padStart(2, '0')}-ch${e.channel}sk${e.timepoint + 1}fk1fl1.tiff`;

/** An index in the shape Harmony 5 writes: channel settings in Maps, positions on each image. */
export function indexXml(entries: readonly Entry[], opts: { channelNamesOnImages?: boolean } = {}): string {
  const names: Record<number, string> = { 1: 'HOECHST 33342', 2: 'Alexa 488 – tubulin' };
  const image = (e: Entry) => `    <Image Version="1">
      <id>${e.row}${e.col}K1F${e.field}P${e.plane}R${e.channel}</id>
      <State>Ok</State>
      <URL>${url(e)}</URL>
      <Row>${e.row}</Row>
      <Col>${e.col}</Col>
      <FieldID>${e.field}</FieldID>
      <PlaneID>${e.plane}</PlaneID>
      <TimepointID>${e.timepoint}</TimepointID>
      <FlimID>1</FlimID>
      <ChannelID>${e.channel}</ChannelID>${opts.channelNamesOnImages ? `\n      <ChannelName>${names[e.channel]}</ChannelName>\n      <ImageResolutionX Unit="m">6.5E-07</ImageResolutionX>\n      <ImageResolutionY Unit="m">6.5E-07</ImageResolutionY>` : ''}
      <PositionX Unit="m">${(e.field - 1) * 6.5e-4}</PositionX>
      <PositionY Unit="m">-0.0001</PositionY>
      <PositionZ Unit="m">${((e.plane - 1) * 2e-6 - 4e-6).toExponential()}</PositionZ>
      <AbsPositionZ Unit="m">0.1352</AbsPositionZ>
      <MeasurementTimeOffset Unit="s">${e.timepoint * 600}</MeasurementTimeOffset>
      <AbsTime>2024-03-01T10:00:00.000+01:00</AbsTime>
    </Image>`;
  const map = Object.entries(names)
    .map(
      ([id, name]) => `      <Entry ChannelID="${id}">
        <ChannelName>${name}</ChannelName>
        <ImageType>Signal</ImageType>
        <ImageResolutionX Unit="m">2.9899999999999998E-07</ImageResolutionX>
        <ImageResolutionY Unit="m">2.9899999999999998E-07</ImageResolutionY>
        <ImageSizeX>16</ImageSizeX>
        <ImageSizeY>12</ImageSizeY>
        <MainEmissionWavelength Unit="nm">${id === '1' ? 456 : 525}</MainEmissionWavelength>
        <ObjectiveMagnification Unit="">40</ObjectiveMagnification>
      </Entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<EvaluationInputData xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="2" xmlns="http://www.perkinelmer.com/PEHH/HarmonyV5">
  <User>plateflow &amp; co</User>
  <InstrumentType>Phenix</InstrumentType>
  <Plates>
    <Plate>
      <PlateID>a1b2</PlateID>
      <PlateTypeName>96 PerkinElmer CellCarrier Ultra</PlateTypeName>
      <PlateRows>8</PlateRows>
      <PlateColumns>12</PlateColumns>
      <Well id="0203" />
    </Plate>
  </Plates>
  <Wells>
    <Well><id>0203</id><Row>2</Row><Col>3</Col></Well>
  </Wells>
  <Maps>
    <Map>
${map}
    </Map>
  </Maps>
  <Images>
${entries.map(image).join('\n')}
  </Images>
</EvaluationInputData>
`;
}

export const GRID: Entry[] = [];
for (const field of [1, 2]) for (const plane of [1, 2, 3]) for (const channel of [1, 2]) for (const timepoint of [0, 1]) GRID.push({ row: 2, col: 3, field, plane, timepoint, channel });

/** A plate folder `<parent>/<name>` with `Images/Index.idx.xml` = `xml` and a 16×12 uint16 TIFF per file. */
export async function phenixPlate(parent: string, name: string, entries: readonly Entry[], xml: string, files = entries.map(url)): Promise<string> {
  const dir = path.join(parent, name);
  await mkdir(path.join(dir, 'Images'), { recursive: true });
  await writeFile(path.join(dir, 'Images', 'Index.idx.xml'), xml);
  for (const f of files) await writeTiff(path.join(dir, 'Images', f), { dtype: 'uint16', shape: [1, 12, 16], data: Uint16Array.from({ length: 12 * 16 }, (_, i) => (i * 37 + f.length * 11) % 4096) });
  clearComponentCache(dir);
  return dir;
}
