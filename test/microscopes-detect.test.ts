import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../src/errors.js';
import { detectFormat } from '../src/microscopes/detect.js';
import type { PlateListing } from '../src/microscopes/handler.js';
import { arrayScanHandler } from '../src/microscopes/arrayscan.js';
import { imageXpressHandler } from '../src/microscopes/imagexpress.js';
import { operaPhenixHandler } from '../src/microscopes/opera-phenix.js';
import { plateflowOutputHandler } from '../src/microscopes/plateflow-output.js';

const listing = (...files: string[]): PlateListing => ({ root: '/plates/p1', files: [...files].sort() });

describe('detectFormat', () => {
  it('picks each format from real-looking names', () => {
    expect(detectFormat('/p', listing('Plate1_A01_s1_w1.tif', 'Plate1_A01_s1_w2.tif', 'Plate1.HTD')).name).toBe('ImageXpress');
    expect(detectFormat('/p', listing('TimePoint_1/ZStep_1/A01_s1_w1.tif')).name).toBe('ImageXpress');
    expect(detectFormat('/p', listing('Images/r02c05f01p01-ch1sk1fk1fl1.tiff', 'Images/Index.idx.xml')).name).toBe('OperaPhenix');
    expect(detectFormat('/p', listing('AS_09047_050428030001_O01f00d2.TIF', 'README.md')).name).toBe('ArrayScan');
    expect(detectFormat('/p', listing('plateflow_metadata.json', '1_blur/well-A01_site-1_channel-1.tif')).name).toBe('plateflow');
    expect(detectFormat('/p', listing('well-A01_site-1_channel-1.tif', 'well-A02_site-1_channel-1.tif')).name).toBe('plateflow');
  });

  it('does not take an ImageXpress plate for plateflow output or the reverse', () => {
    expect(detectFormat('/p', listing('A01_s1_w1.tif', 'well-A01_site-1_channel-1.tif')).name).toBe('ImageXpress');
  });

  it('explains, per handler, why each one was rejected', () => {
    let caught: unknown;
    try {
      detectFormat('/plates/p1', listing('foo.png', 'img_001.tif', 'notes.txt'));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DiscoveryError);
    const err = caught as DiscoveryError;
    expect(err.code).toBe('E_FORMAT_UNKNOWN');
    expect(err.message).toBe(
      [
        'no known plate format fits /plates/p1:',
        "  - plateflow: no plateflow_metadata.json, and not every TIFF in the folder is named like well-A01_site-1_channel-1.tif; e.g. 'img_001.tif'",
        "  - ImageXpress: no file matched <prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif; e.g. 'img_001.tif'",
        "  - OperaPhenix: no file matched r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk1fl1.tiff; e.g. 'img_001.tif'",
        "  - ArrayScan: no file matched <plate>_<well>f<field:2>d<channel>.TIF; e.g. 'img_001.tif'",
        '  - OME-Zarr: no zarr.json or .zgroup at the top of the folder (an OME-Zarr plate is <plate>.zarr/<row>/<col>/<field>/0)',
        'If the files follow another naming rule, describe it with a pattern, e.g. {well}_s{site}_w{channel}.tif',
      ].join('\n'),
    );
    expect(Object.keys(err.context['reasons'] as object)).toEqual(['plateflow', 'ImageXpress', 'OperaPhenix', 'ArrayScan', 'OME-Zarr']);
  });

  it('quotes a non-image file when there is no image at all', () => {
    const r = imageXpressHandler.detect(listing('foo.png'));
    expect(r).toEqual({ ok: false, reason: "no file matched <prefix>_<well>_s<site>_w<channel>[_z<z>][_t<t>].tif; e.g. 'foo.png'" });
  });

  it('mentions an Opera index file when the images do not follow the Phenix naming', () => {
    const r = operaPhenixHandler.detect(listing('Images/Index.xml', 'Images/img1.tiff'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe(
      "no file matched r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk1fl1.tiff; e.g. 'Images/img1.tiff' (an Index.xml is present, but no image follows the Phenix naming)",
    );
  });

  it('ignores ImageXpress thumbnails when detecting', () => {
    expect(imageXpressHandler.detect(listing('P_A01_s1_w1_thumb.tif')).ok).toBe(false);
    expect(arrayScanHandler.detect(listing('P_A01_s1_w1.tif')).ok).toBe(false);
    expect(plateflowOutputHandler.detect(listing('x/plateflow_metadata.json')).ok).toBe(false);
  });
});
