/**
 * Opera Phenix / Operetta index files: components, channel names, pixel size, positions and
 * timepoints from `Index.idx.xml`, the file names as the fallback, and unreadable indexes named in
 * the error (strict) or reported as skipped (lenient). Fixtures follow Harmony's export schema.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverPlate } from '../src/microscopes/discover.js';
import { parseXml, XmlSyntaxError } from '../src/microscopes/xml.js';
import { cli, lastJsonLine, tempDir } from './helpers.js';
import { GRID, indexXml, phenixPlate, url, type Entry } from './phenix-fixture.js';

const root = await tempDir('plateflow-phenix-');

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
    const dir = await phenixPlate(root, 'full', GRID, indexXml(GRID));
    const index = await discoverPlate(dir);
    expect(index.format).toBe('OperaPhenix');
    expect(index.images).toHaveLength(GRID.length);
    expect(index.components).toEqual({ well: ['B03'], site: ['1', '2'], channel: ['1', '2'], z: ['1', '2', '3'], timepoint: ['1', '2'] });
    expect(index.grid).toEqual({ rows: 8, columns: 12 });
    const a = index.acquisition!;
    expect(a.source).toBe('Images/Index.idx.xml');
    expect(a.channels).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488 – tubulin' });
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
    const dir = await phenixPlate(root, 'renamed', entries, indexXml(entries), ['img_0001.tiff', 'img_0002.tiff', 'r03c04f01p01-ch1sk1fk1fl1.tiff']);
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
    const dir = await phenixPlate(root, 'older', entries, indexXml(entries, { channelNamesOnImages: true }).replace(/<Maps>[\s\S]*<\/Maps>/, ''), entries.slice(0, 3).map(url));
    const index = await discoverPlate(dir);
    expect(index.acquisition?.channels).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488 – tubulin' });
    expect(index.acquisition?.pixelSize).toMatchObject({ x: 0.65, y: 0.65 });
    expect(index.images).toHaveLength(3);
    expect(index.skipped).toEqual([{ path: `Images/${url(entries[3]!)}`, reason: 'listed in Images/Index.idx.xml but missing on disk' }]);
  });

  it('keeps URLs that leave the plate out, with a reason', async () => {
    const entries: Entry[] = [{ row: 1, col: 1, field: 1, plane: 1, timepoint: 0, channel: 1 }, { row: 1, col: 1, field: 1, plane: 1, timepoint: 0, channel: 2, url: '../../etc/passwd' }];
    const dir = await phenixPlate(root, 'traversal', entries, indexXml(entries), [url(entries[0]!)]);
    const index = await discoverPlate(dir);
    expect(index.images.map((r) => r.path)).toEqual([`Images/${url(entries[0]!)}`]);
    expect(index.skipped[0]!.reason).toMatch(/URL "\.\.\/\.\.\/etc\/passwd" is not a file inside the plate/);
  });

  it('fails naming the file when the index is malformed, and falls back to file names when lenient', async () => {
    const entries = GRID.slice(0, 2);
    const dir = await phenixPlate(root, 'malformed', entries, indexXml(entries).replace('</Images>', '</Image>'));
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
    const dir = await phenixPlate(root, 'wrong-root', GRID.slice(0, 1), '<Other/>');
    await expect(discoverPlate(dir)).rejects.toThrow(/the root element is <Other>, not <EvaluationInputData>/);
  });

  it('shows channel names and pixel size in plateflow inspect, text and --json', async () => {
    const dir = await phenixPlate(root, 'inspect', GRID, indexXml(GRID));
    const json = cli(['inspect', dir, '--json']);
    expect(json.code).toBe(0);
    const out = lastJsonLine(json.stdout);
    expect(out['format']).toBe('OperaPhenix');
    expect(out['channels']).toEqual({ '1': 'HOECHST 33342', '2': 'Alexa 488 – tubulin' });
    expect(out['pixelSize']).toEqual({ x: 0.299, y: 0.299, z: 2, unit: 'micrometer' });
    const text = cli(['inspect', dir]);
    expect(text.stdout).toMatch(/channel\s+2\s+1 \(HOECHST 33342\) 2 \(Alexa 488 – tubulin\)/);
    expect(text.stdout).toContain('pixel:   0.299 × 0.299 µm, z step 2 µm');
    const bad = await phenixPlate(root, 'inspect-bad', GRID.slice(0, 1), '<EvaluationInputData><Images>');
    const failed = cli(['inspect', bad]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/E_METADATA_INVALID.*Index\.idx\.xml/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
  });
});
