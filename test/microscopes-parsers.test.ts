import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { arrayScanHandler } from '../src/microscopes/arrayscan.js';
import { parseHtd } from '../src/microscopes/htd.js';
import { imageXpressHandler } from '../src/microscopes/imagexpress.js';
import { operaPhenixHandler } from '../src/microscopes/opera-phenix.js';
import { createPatternHandler, templateToRegExpSource } from '../src/microscopes/pattern.js';
import { plateflowOutputHandler } from '../src/microscopes/plateflow-output.js';
import { FORMAT_HANDLERS, formatNames, getFormatHandler } from '../src/microscopes/registry.js';

const c = (well: string, site: string, channel: string, z = '1', timepoint = '1') => ({ well, site, channel, z, timepoint });

describe('ImageXpress names', () => {
  const parse = imageXpressHandler.parse;
  it('parses prefixed and unprefixed names', () => {
    expect(parse('Plate1_B03_s2_w1.tif')).toEqual(c('B03', '2', '1'));
    expect(parse('A01_s1_w1.tif')).toEqual(c('A01', '1', '1'));
    expect(parse('My_Screen_2024_H12_s4_w2.TIF')).toEqual(c('H12', '4', '2'));
    expect(parse('X_B02_A01_s1_w1.tiff')).toEqual(c('A01', '1', '1'));
  });

  it('normalizes A1 to A01 and strips leading zeros of site and channel', () => {
    expect(parse('plate_A1_s01_w02.tif')).toEqual(c('A01', '1', '2'));
    expect(parse('AA12_s1_w1.tif')).toEqual(c('AA12', '1', '1'));
  });

  it('reads _z and _t from the name', () => {
    expect(parse('P_C05_s3_w2_z4_t7.tif')).toEqual(c('C05', '3', '2', '4', '7'));
    expect(parse('P_C05_s3_w2_t7.tif')).toEqual(c('C05', '3', '2', '1', '7'));
  });

  it('reads TimePoint_<t>/ZStep_<z> folders; the file name wins when both give a value', () => {
    expect(parse('TimePoint_3/ZStep_2/A01_s1_w1.tif')).toEqual(c('A01', '1', '1', '2', '3'));
    expect(parse('TimePoint_3/A01_s1_w1.tif')).toEqual(c('A01', '1', '1', '1', '3'));
    expect(parse('TimePoint_3/ZStep_2/A01_s1_w1_z5_t9.tif')).toEqual(c('A01', '1', '1', '5', '9'));
  });

  it('accepts MetaXpress variants: no _s for one site, no _w for one wavelength, a GUID after the wavelength', () => {
    expect(parse('Plate_B02_w2.tif')).toEqual(c('B02', '1', '2'));
    expect(parse('Plate_B02_s3.tif')).toEqual(c('B02', '3', '1'));
    expect(parse('Week1_150607_B02_s1_w1EB868A72-19FC-46BB-BDFA-66B8966A817C.tif')).toEqual(c('B02', '1', '1'));
  });

  it('rejects thumbnails and foreign names', () => {
    expect(parse('Plate_A01_s1_w1_thumb8D7C3B7E-1B2A-4F4D-9C63-1B9A0E6F1A2B.tif')).toBeUndefined();
    expect(imageXpressHandler.ignores?.('Plate_A01_s1_w1_thumb.tif')).toBe(true);
    expect(imageXpressHandler.ignores?.('Plate_A01_s1_w1.tif')).toBe(false);
    for (const name of ['AS_09047_050428030001_O01f00d2.TIF', 'r02c05f01p01-ch1sk1fk1fl1.tiff', 'well-A01_site-1.tif', 'A01_s1_w1.png', 'notes.tif']) {
      expect(parse(name), name).toBeUndefined();
    }
  });

  it('parses the .HTD plate file', () => {
    const htd = parseHtd(
      [
        '"HTSInfoFile", Version 1.0',
        '"Description", "Plate, with a comma"',
        '"PlateType", 6',
        '"TimePoints", 1',
        '"XWells", 12',
        '"YWells", 8',
        '"WellsSelection1", FALSE, TRUE, TRUE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE',
        '"WellsSelection2", FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, TRUE',
        '"Sites", TRUE',
        '"XSites", 2',
        '"YSites", 2',
        '"Waves", TRUE',
        '"NWavelengths", 2',
        '"WaveName1", "DAPI"',
        '"WaveName2", "FITC"',
        '"EndFile"',
      ].join('\r\n'),
    );
    expect(htd.grid).toEqual({ rows: 8, columns: 12 });
    expect(htd.sitesPerWell).toBe(4);
    expect(htd.wavelengths).toEqual(['DAPI', 'FITC']);
    expect(htd.selectedWells).toEqual(['A02', 'A03', 'B12']);
    expect(htd.entries['Description']).toEqual(['Plate, with a comma']);
  });

  it('gives no grid for an HTD without well counts', () => {
    expect(parseHtd('"HTSInfoFile", Version 1.0\n"XWells", 0\n').grid).toBeUndefined();
    expect(parseHtd('').wavelengths).toEqual([]);
  });
});

describe('Opera Phenix names', () => {
  const parse = operaPhenixHandler.parse;
  it('maps r<row>c<col> to a well with row 1 = A', () => {
    expect(parse('r02c05f01p01-ch1sk1fk1fl1.tiff')).toEqual(c('B05', '1', '1'));
    expect(parse('Images/r01c01f12p03-ch4sk25fk1fl1.tiff')).toEqual(c('A01', '12', '4', '3', '25'));
    expect(parse('r16c24f09p10-ch2sk1fk1fl1.tiff')).toEqual(c('P24', '9', '2', '10', '1'));
    expect(parse('r32c48f1p1-ch1sk1fk1fl1.tif')).toEqual(c('AF48', '1', '1'));
  });

  it('defaults the timepoint to 1 when sk is absent', () => {
    expect(parse('r03c07f02p05-ch3fk1fl1.tiff')).toEqual(c('C07', '2', '3', '5', '1'));
  });

  it('rejects row or column 0 and other names', () => {
    expect(parse('r00c05f01p01-ch1sk1fk1fl1.tiff')).toBeUndefined();
    expect(parse('r01c00f01p01-ch1sk1fk1fl1.tiff')).toBeUndefined();
    expect(parse('r02c05f01p01-ch1sk1.tiff')).toBeUndefined();
    expect(parse('A01_s1_w1.tif')).toBeUndefined();
  });
});

describe('ArrayScan names', () => {
  const parse = arrayScanHandler.parse;
  it('parses the BBBC016 names: field number as site, without leading zeros', () => {
    expect(parse('AS_09047_050428030001_O01f00d2.TIF')).toEqual(c('O01', '0', '2'));
    expect(parse('AS_09047_050428030001_O24f02d2.TIF')).toEqual(c('O24', '2', '2'));
    expect(parse('MFGTMP_140206180002_A01f10d0.tif')).toEqual(c('A01', '10', '0'));
  });

  it('rejects names without a plate prefix or with a one-digit field', () => {
    expect(parse('O01f00d2.TIF')).toBeUndefined();
    expect(parse('AS_O01f0d2.TIF')).toBeUndefined();
    expect(parse('Plate_A01_s1_w1.tif')).toBeUndefined();
  });
});

describe('plateflow output names', () => {
  it('parses our own names and fills missing standard components with 1', () => {
    expect(plateflowOutputHandler.parse('well-A01_site-2_channel-1.tif')).toEqual(c('A01', '2', '1'));
    expect(plateflowOutputHandler.parse('1_blur/well-B03_site-1_channel-2_z-3_timepoint-4_plane-7.tif')).toEqual({
      ...c('B03', '1', '2', '3', '4'),
      plane: '7',
    });
    expect(plateflowOutputHandler.parse('A01_s1_w1.tif')).toBeUndefined();
  });
});

describe('pattern handler', () => {
  it('builds a parser from a template; missing standard components are 1', () => {
    const h = createPatternHandler('{well}_s{site}_w{channel}.tif');
    expect(h.name).toBe('pattern');
    expect(h.parse('B3_s02_w1.tif')).toEqual(c('B03', '2', '1'));
    expect(h.parse('sub/B3_s02_w1.TIF')).toEqual(c('B03', '2', '1'));
    expect(h.parse('B3_s02.tif')).toBeUndefined();
  });

  it('escapes literal characters of a template (no regex injection)', () => {
    const h = createPatternHandler('img(+).{well}[{site}].tif');
    expect(h.parse('img(+).C04[3].tif')).toEqual(c('C04', '3', '1'));
    expect(h.parse('imgX+).C04[3].tif')).toBeUndefined();
    expect(templateToRegExpSource('a.{well}*').source).toBe('a\\.(?<well>[^/]+?)\\*');
  });

  it('supports {*} wildcards, extra components and folder templates', () => {
    const h = createPatternHandler('{*}/T{timepoint}/{well}_{plane}.tif');
    expect(h.components).toEqual(['well', 'site', 'channel', 'z', 'timepoint', 'plane']);
    expect(h.parse('run1/T5/A02_p3.tif')).toEqual({ ...c('A02', '1', '1', '1', '5'), plane: 'p3' });
  });

  it('builds a parser from a regex with named groups, matched as written', () => {
    const h = createPatternHandler('(?<well>[A-P]\\d{2})-(?<channel>DAPI|GFP)(?:_(?<site>\\d+))?\\.tif');
    expect(h.parse('A01-GFP_2.tif')).toEqual(c('A01', '2', 'GFP'));
    expect(h.parse('A01-DAPI.tif')).toEqual(c('A01', '1', 'DAPI'));
    expect(h.parse('a01-DAPI.tif')).toBeUndefined();
    expect(h.parse('xA01-DAPI.tif')).toBeUndefined();
  });

  it('rejects bad patterns with a ConfigError', () => {
    const cases: [string, RegExp][] = [
      ['(?<well>[A-P', /is not a valid regular expression/],
      ['plain.tif', /names no components/],
      ['', /pattern is empty/],
      ['{well}_{well}.tif', /placeholder \{well\} appears twice/],
      ['{well_id}.tif', /placeholder \{well_id\} is not a component name/],
      ['{well.tif', /'\{' at position 1 is never closed/],
      ['well}.tif', /'\}' at position 5 has no matching '\{'/],
    ];
    for (const [pattern, message] of cases) {
      expect(() => createPatternHandler(pattern), pattern).toThrow(ConfigError);
      expect(() => createPatternHandler(pattern), pattern).toThrow(message);
    }
    expect(() => createPatternHandler('(?<_x>\\d+)\\.tif')).toThrow(/group name '_x' is not a component name/);
  });
});

describe('registry', () => {
  it('lists the built-in handlers in detection order', () => {
    expect(FORMAT_HANDLERS.map((h) => h.name)).toEqual(['plateflow', 'ImageXpress', 'OperaPhenix', 'ArrayScan', 'OME-Zarr']);
    expect(formatNames()).toEqual(['plateflow', 'ImageXpress', 'OperaPhenix', 'ArrayScan', 'OME-Zarr', 'pattern']);
    expect(Object.isFrozen(FORMAT_HANDLERS)).toBe(true);
  });

  it('finds handlers by name or alias, ignoring case and separators', () => {
    expect(getFormatHandler('imagexpress')).toBe(FORMAT_HANDLERS[1]);
    expect(getFormatHandler('opera-phenix').name).toBe('OperaPhenix');
    expect(getFormatHandler('Cellomics').name).toBe('ArrayScan');
    expect(getFormatHandler('plateflow-output').name).toBe('plateflow');
  });

  it('rejects unknown names listing the known ones', () => {
    expect(() => getFormatHandler('zeiss')).toThrow("unknown format 'zeiss'; known formats: plateflow, ImageXpress, OperaPhenix, ArrayScan, OME-Zarr, pattern");
    expect(() => getFormatHandler('pattern')).toThrow(/needs a pattern/);
  });
});
