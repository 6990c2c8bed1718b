/**
 * Opera Phenix / Operetta index files: components, channel names, pixel size, positions and
 * timepoints from `Index.idx.xml`, the file names as the fallback, and unreadable indexes named in
 * the error (strict) or reported as skipped (lenient). Fixtures follow Harmony's export schema.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearComponentCache, discoverPlate } from '../src/microscopes/discover.js';
import { parseXml, XmlSyntaxError } from '../src/microscopes/xml.js';
import { writeTiff } from '../src/storage/tiff-write.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';

const root = await tempDir('plateflow-phenix-');

interface Entry {
  row: number;
  col: number;
  field: number;
  plane: number;
  timepoint: number;
  channel: number;
  url?: string;
}

const url = (e: Entry) =>
  e.url ?? `r${String(e.row).padStart(2, '0')}c${String(e.col).padStart(2, '0')}f${String(e.field).padStart(2, '0')}p${String(e.plane).padStart(2, '0')}-ch${e.channel}sk${e.timepoint + 1}fk1fl1.tiff`;

/** An index in the shape Harmony 5 writes: channel settings in Maps, positions on each image. */
export function indexXml(entries: readonly Entry[], opts: { channelNamesOnImages?: boolean } = {}): string {
  const names: Record<number, string> = { 1: 'HOECHST 33342', 2: 'Alexa 488' };
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

const GRID: Entry[] = [];
for (const field of [1, 2]) for (const plane of [1, 2, 3]) for (const channel of [1, 2]) for (const timepoint of [0, 1]) GRID.push({ row: 2, col: 3, field, plane, timepoint, channel });

async function plate(name: string, entries: readonly Entry[], xml: string, files = entries.map(url)): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'Images'), { recursive: true });
  await writeFile(path.join(dir, 'Images', 'Index.idx.xml'), xml);
  for (const f of files) await writeTiff(path.join(dir, 'Images', f), { dtype: 'uint16', shape: [1, 12, 16], data: new Uint16Array(12 * 16).fill(7) });
  clearComponentCache(dir);
  return dir;
}

describe('the XML reader', () => {
  it('reads elements, attributes, entities, CDATA and comments, dropping namespace prefixes', () => {
    const doc = parseXml('\ufeff<?xml version="1.0"?><!-- c --><a:Root xmlns:a="urn:x" k="1 &lt; 2"><B>x &amp; y&#65;&#x42;</B><B><![CDATA[<raw>]]></B><C/></a:Root>');
    expect(doc.name).toBe('Root');
    expect(doc.attributes).toEqual({ k: '1 < 2' });
    expect(doc.children.map((c) => c.name)).toEqual(['B', 'B', 'C']);
    expect(doc.children[0]!.text).toBe('x & yAB');
    expect(doc.children[1]!.text).toBe('<raw>');
  });

  it.each([
    ['<!DOCTYPE lol [<!ENTITY a "aaaa">]><r>&a;</r>', /document type declarations are not supported/],
    ['<r>&a;</r>', /unknown entity "&a;"/],
    ['<r><s></r>', /<\/r> closes <s>/],
    ['<r>', /<r> is never closed/],
    ['<r/><r/>', /a second root element/],
    ['<r a=1/>', /not quoted/],
    ['', /no root element/],
  ])('refuses %j', (text, reason) => {
    expect(() => parseXml(text)).toThrow(XmlSyntaxError);
    expect(() => parseXml(text)).toThrow(reason);
  });
});

describe('Opera Phenix Index.idx.xml', () => {
  it('gives components, channel names, pixel size, z step, positions and timepoints', async () => {
    const dir = await plate('full', GRID, indexXml(GRID));
    const index = await discoverPlate(dir);
    expect(index.format).toBe('OperaPhenix');
    expect(index.images).toHaveLength(GRID.length);
    expect(index.components).toEqual({ well: ['B03'], site: ['1', '2'], channel: ['1', '2'], z: ['1', '2', '3'], timepoint: ['1', '2'] });
    expect(index.grid).toEqual({ rows: 8, columns: 12 });
    const a = index.acquisition!;
    expect(a.source).toBe('Images/Index.idx.xml');
    expect(a.channels).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488' });
    expect(a.wavelengths).toEqual({ '1': 456, '2': 525 });
    expect(a.pixelSize).toEqual({ x: 0.299, y: 0.299, z: 2, unit: 'micrometer' });
    expect(a.sites).toEqual({ '1': { x: 0, y: -100 }, '2': { x: 650, y: -100 } });
    expect(a.planes).toEqual({ '1': -4, '2': -2, '3': 0 });
    expect(a.timepoints).toEqual({ '1': 0, '2': 600 });
    expect(Object.isFrozen(a.channels)).toBe(true);
  });

  it('takes components from the index even when file names say something else', async () => {
    const entries: Entry[] = [
      { row: 1, col: 1, field: 1, plane: 1, timepoint: 0, channel: 1, url: 'img_0001.tiff' },
      { row: 1, col: 2, field: 1, plane: 1, timepoint: 0, channel: 2, url: 'img_0002.tiff' },
    ];
    const dir = await plate('renamed', entries, indexXml(entries), ['img_0001.tiff', 'img_0002.tiff', 'r03c04f01p01-ch1sk1fk1fl1.tiff']);
    const index = await discoverPlate(dir, { format: 'phenix' });
    expect(index.images.map((r) => [r.path, r.components['well'], r.components['channel']])).toEqual([
      ['Images/img_0001.tiff', 'A01', '1'],
      ['Images/img_0002.tiff', 'A02', '2'],
      // not in the index: named from its file name
      ['Images/r03c04f01p01-ch1sk1fk1fl1.tiff', 'C04', '1'],
    ]);
  });

  it('reads channel settings written on each image (older exports) and reports entries missing on disk', async () => {
    const entries = GRID.slice(0, 4);
    const dir = await plate('older', entries, indexXml(entries, { channelNamesOnImages: true }).replace(/<Maps>[\s\S]*<\/Maps>/, ''), entries.slice(0, 3).map(url));
    const index = await discoverPlate(dir);
    expect(index.acquisition?.channels).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488' });
    expect(index.acquisition?.pixelSize).toMatchObject({ x: 0.65, y: 0.65 });
    expect(index.images).toHaveLength(3);
    expect(index.skipped).toEqual([{ path: `Images/${url(entries[3]!)}`, reason: 'listed in Images/Index.idx.xml but missing on disk' }]);
  });

  it('keeps URLs that leave the plate out, with a reason', async () => {
    const entries: Entry[] = [{ row: 1, col: 1, field: 1, plane: 1, timepoint: 0, channel: 1 }, { row: 1, col: 1, field: 1, plane: 1, timepoint: 0, channel: 2, url: '../../etc/passwd' }];
    const dir = await plate('traversal', entries, indexXml(entries), [url(entries[0]!)]);
    const index = await discoverPlate(dir);
    expect(index.images.map((r) => r.path)).toEqual([`Images/${url(entries[0]!)}`]);
    expect(index.skipped[0]!.reason).toMatch(/URL "\.\.\/\.\.\/etc\/passwd" is not a file inside the plate/);
  });

  it('fails naming the file when the index is malformed, and falls back to file names when lenient', async () => {
    const entries = GRID.slice(0, 2);
    const dir = await plate('malformed', entries, indexXml(entries).replace('</Images>', '</Image>'));
    const err = await discoverPlate(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_METADATA_INVALID' });
    expect((err as Error).message).toContain(path.join(dir, 'Images', 'Index.idx.xml'));
    expect((err as Error).message).toMatch(/<\/Image> closes <Images> \(line \d+, column \d+\)/);
    const lenient = await discoverPlate(dir, { lenient: true });
    expect(lenient.images).toHaveLength(2);
    expect(lenient.acquisition).toBeUndefined();
    expect(lenient.skipped).toEqual([{ path: 'Images/Index.idx.xml', reason: expect.stringMatching(/not a readable Opera Phenix index: .*components taken from file names/) }]);
  });

  it('names the wrong root element', async () => {
    const dir = await plate('wrong-root', GRID.slice(0, 1), '<Other/>');
    await expect(discoverPlate(dir)).rejects.toThrow(/the root element is <Other>, not <EvaluationInputData>/);
  });

  it('shows channel names and pixel size in plateflow inspect, text and --json', async () => {
    const dir = await plate('inspect', GRID, indexXml(GRID));
    const json = cli(['inspect', dir, '--json']);
    expect(json.code).toBe(0);
    const out = lastJsonLine(json.stdout);
    expect(out['format']).toBe('OperaPhenix');
    expect(out['channels']).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488' });
    expect(out['pixelSize']).toEqual({ x: 0.299, y: 0.299, z: 2, unit: 'micrometer' });
    const text = cli(['inspect', dir]);
    expect(text.stdout).toMatch(/channel\s+2\s+1 \(HOECHST 33342\) 2 \(Alexa 488\)/);
    expect(text.stdout).toContain('pixel:   0.299 × 0.299 µm, z step 2 µm');
    const bad = await plate('inspect-bad', GRID.slice(0, 1), '<EvaluationInputData><Images>');
    const failed = cli(['inspect', bad]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/E_METADATA_INVALID.*Index\.idx\.xml/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
  });
});
