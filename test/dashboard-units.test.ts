/**
 * The dashboard's pure parts: the PNG encoder (checked by an independent decode: chunk CRCs,
 * inflate, filter bytes), the documented contrast stretch against a plain reference, the
 * `[HOST:]PORT` parser, and the Host-header rule against DNS rebinding.
 */
import type { IncomingMessage } from 'node:http';
import { crc32, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDashboardAddress } from '../src/dashboard/address.js';
import { parseStretch, percentiles, renderPlane } from '../src/dashboard/contrast.js';
import { encodeGreyPng } from '../src/dashboard/png.js';
import { AccessControl } from '../src/dashboard/security.js';

/** A strict little PNG reader for what the encoder writes (greyscale 8-bit, filter 0). */
function decodePng(png: Buffer): { width: number; height: number; pixels: Uint8Array } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  const chunks: { type: string; data: Buffer }[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length), `${type} CRC`).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]!.data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  expect([...ihdr.subarray(8)]).toEqual([8, 0, 0, 0, 0]);
  const raw = inflateSync(chunks[1]!.data);
  expect(raw.length).toBe((width + 1) * height);
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, pixels };
}

describe('PNG encoder', () => {
  it('round-trips any greyscale image through an independent decoder', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (w, h, seed) => {
        const pixels = Uint8Array.from({ length: w * h }, (_, i) => (i * 2654435761 + seed) >>> 24);
        const decoded = decodePng(encodeGreyPng(pixels, w, h));
        expect(decoded.width).toBe(w);
        expect(decoded.height).toBe(h);
        expect(decoded.pixels).toEqual(pixels);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a size that does not match the pixels', () => {
    expect(() => encodeGreyPng(new Uint8Array(5), 2, 2)).toThrow(RangeError);
    expect(() => encodeGreyPng(new Uint8Array(0), 0, 0)).toThrow(RangeError);
  });
});

describe('contrast stretch', () => {
  it('maps the 0.5/99.5 percentiles to 0/255 and shrinks by block means', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 12 }), fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 900, maxLength: 900 }), (w, h, side, values) => {
        const data = Uint16Array.from(values.slice(0, w * h));
        const sorted = [...data].sort((a, b) => a - b);
        const lo = sorted[Math.floor(0.005 * (sorted.length - 1))]!;
        const hi = sorted[Math.floor(0.995 * (sorted.length - 1))]!;
        expect(percentiles(data, { low: 0.5, high: 99.5 })).toEqual({ lo, hi });
        const out = renderPlane(data, w, h, { lo, hi }, side);
        const k = Math.max(1, Math.ceil(Math.max(w, h) / side));
        expect([out.width, out.height]).toEqual([Math.ceil(w / k), Math.ceil(h / k)]);
        // Block (0, 0) by hand.
        const block: number[] = [];
        for (let y = 0; y < Math.min(k, h); y++) for (let x = 0; x < Math.min(k, w); x++) block.push(data[y * w + x]!);
        const mean = block.reduce((s, v) => s + v, 0) / block.length;
        const want = hi > lo ? Math.min(255, Math.max(0, Math.round(((mean - lo) * 255) / (hi - lo)))) : mean > lo ? 255 : 0;
        expect(out.pixels[0]).toBe(want);
      }),
      { numRuns: 80 },
    );
  });

  it('leaves NaN out of float percentiles and falls back to the default for bad control values', () => {
    expect(percentiles(Float32Array.from([NaN, 1, 2, 3, NaN]), { low: 0, high: 100 })).toEqual({ lo: 1, hi: 3 });
    expect(parseStretch('2', '98')).toEqual({ low: 2, high: 98 });
    for (const [l, h] of [['50', '10'], ['-1', '99'], ['x', '99'], ['1', '101']] as const) expect(parseStretch(l, h)).toEqual({ low: 0.5, high: 99.5 });
  });
});

describe('--dashboard [HOST:]PORT', () => {
  it('parses ports and hosts, and names the flag for anything else', () => {
    expect(parseDashboardAddress('0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseDashboardAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseDashboardAddress('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseDashboardAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseDashboardAddress('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    for (const bad of ['', 'abc', '70000', '1.2.3.4:', ':80', 'host:port', '1:2:3']) expect(() => parseDashboardAddress(bad), bad).toThrow(/--dashboard: expected \[HOST:\]PORT/);
  });
});

describe('Host header', () => {
  const hostAllowed = (bound: string, host: string | undefined) => {
    const access = new AccessControl(bound, 't');
    access.port = 4000;
    return access.hostAllowed({ headers: host === undefined ? {} : { host } } as IncomingMessage);
  };
  it('serves the bound address (and localhost for loopback), never a DNS name that could be rebound', () => {
    expect(hostAllowed('127.0.0.1', '127.0.0.1:4000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'localhost:4000')).toBe(true);
    expect(hostAllowed('127.0.0.1', '[::1]:4000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'attacker.example:4000')).toBe(false);
    expect(hostAllowed('127.0.0.1', '127.0.0.1:4001')).toBe(false);
    expect(hostAllowed('127.0.0.1', '127.0.0.1')).toBe(false);
    expect(hostAllowed('127.0.0.1', undefined)).toBe(false);
    expect(hostAllowed('0.0.0.0', '10.1.2.3:4000')).toBe(true);
    expect(hostAllowed('0.0.0.0', 'intranet.example:4000')).toBe(false);
    expect(hostAllowed('10.1.2.3', '10.1.2.3:4000')).toBe(true);
    expect(hostAllowed('10.1.2.3', '10.1.2.4:4000')).toBe(false);
  });
});
