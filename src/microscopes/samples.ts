/**
 * Colour (multi-sample) TIFFs in discovery: one RGB file becomes three records, one per sample, so
 * every pipeline, per-channel map and channel filter works on the samples as channels.
 *
 * Naming (documented in README, "Colour and multi-sample TIFFs"):
 * - a file of channel `<c>` gives channels `<c>-r`, `<c>-g`, `<c>-b` (and `<c>-a` for RGBA); samples
 *   of non-RGB files, and samples past the fourth, are numbered: `<c>-1`, `<c>-2`, …
 * - when the plate has no channel of its own (every image is channel `1`: the names carry none, or
 *   only one), the samples are channels `1`, `2`, `3` (, `4`).
 * - with `color: 'luminance'`, files of 3 or more samples stay one record each, read as the
 *   BT.601 luminance of their first three samples; components are unchanged.
 *
 * Why not read every file's header: on a network filesystem a plate of 100 000 files would pay
 * 100 000 opens before the first task. Files of one channel come from one camera setting, so the
 * first readable file of each channel stands for the channel (a handful of small reads). The reader
 * still checks every file: a record without a sample that meets a colour file, or a sample the
 * file does not have, fails that image with a message naming the file.
 *
 * @module
 */
import { StorageError, TiffError } from '../errors.js';
import { resolveInside } from '../storage/safe-path.js';
import { peekTiffSamples, type TiffSamples } from '../storage/tiff-peek.js';
import { isTiffPath } from './handler.js';
import type { ImageRecord } from './types.js';

/** How discovery treats multi-sample files: each sample a channel (default), or one luminance plane. */
export type ColorMode = 'channels' | 'luminance';
export const COLOR_MODES: readonly ColorMode[] = Object.freeze(['channels', 'luminance']);

/** Files of a channel tried before giving up on learning its layout (the reads then report it). */
const PEEK_ATTEMPTS = 3;
const PHOTOMETRIC_RGB = 2;
const RGBA = ['r', 'g', 'b', 'a'];

/** The records of `images`, with those of multi-sample TIFFs expanded (or marked) per `mode`. */
export async function expandSamples(root: string, images: readonly ImageRecord[], mode: ColorMode): Promise<ImageRecord[]> {
  const byChannel = new Map<string, ImageRecord[]>();
  for (const r of images) {
    if (!isTiffPath(r.path) || r.page !== undefined || r.sample !== undefined) continue;
    const channel = r.components['channel'] ?? '1';
    let list = byChannel.get(channel);
    if (!list) byChannel.set(channel, (list = []));
    list.push(r);
  }
  const layouts = new Map<string, TiffSamples>();
  await Promise.all(
    [...byChannel].map(async ([channel, records]) => {
      const layout = await firstReadable(root, records);
      if (layout && layout.samplesPerPixel > 1) layouts.set(channel, layout);
    }),
  );
  if (layouts.size === 0) return [...images];
  const noChannels = images.every((r) => (r.components['channel'] ?? '1') === '1');
  const out: ImageRecord[] = [];
  for (const r of images) {
    const layout = isTiffPath(r.path) && r.page === undefined && r.sample === undefined ? layouts.get(r.components['channel'] ?? '1') : undefined;
    if (!layout) {
      out.push(r);
      continue;
    }
    if (mode === 'luminance' && layout.samplesPerPixel >= 3) {
      out.push({ ...r, sample: 'luminance' });
      continue;
    }
    for (let s = 0; s < layout.samplesPerPixel; s++) {
      out.push({ ...r, components: { ...r.components, channel: sampleChannel(r.components['channel'] ?? '1', s, layout, noChannels) }, sample: s });
    }
  }
  return out;
}

/** The channel value of sample `s` of a file of `channel` (see the module comment). */
function sampleChannel(channel: string, s: number, layout: TiffSamples, noChannels: boolean): string {
  if (noChannels) return String(s + 1);
  const rgb = layout.photometric === PHOTOMETRIC_RGB && s < RGBA.length;
  return `${channel}-${rgb ? RGBA[s] : String(s + 1)}`;
}

async function firstReadable(root: string, records: readonly ImageRecord[]): Promise<TiffSamples | undefined> {
  for (const r of records.slice(0, PEEK_ATTEMPTS)) {
    try {
      return await peekTiffSamples(resolveInside(root, r.path));
    } catch (err) {
      if (!(err instanceof TiffError || err instanceof StorageError)) throw err;
    }
  }
  return undefined;
}
