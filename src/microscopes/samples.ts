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
import { ABSENT, RecordColumns } from './record-columns.js';

/** How discovery treats multi-sample files: each sample a channel (default), or one luminance plane. */
export type ColorMode = 'channels' | 'luminance';
export const COLOR_MODES: readonly ColorMode[] = Object.freeze(['channels', 'luminance']);

/** Files of a channel tried before giving up on learning its layout (the reads then report it). */
const PEEK_ATTEMPTS = 3;
const PHOTOMETRIC_RGB = 2;
const RGBA = ['r', 'g', 'b', 'a'];

/** The records of `cols`, with those of multi-sample TIFFs expanded (or marked) per `mode`; `cols` itself when none is. */
export async function expandSamples(root: string, cols: RecordColumns, mode: ColorMode): Promise<RecordColumns> {
  const channelOf = (row: number): string => cols.value('channel', row) ?? '1';
  const plain = (row: number): boolean => cols.pages.get(row) === ABSENT && cols.samples.get(row) === ABSENT && isTiffPath(cols.paths[row]!);
  // Only the first few files of each channel are ever peeked at.
  const candidates = new Map<string, string[]>();
  for (let row = 0; row < cols.length; row++) {
    const channel = channelOf(row);
    let list = candidates.get(channel);
    if (list && list.length >= PEEK_ATTEMPTS) continue;
    if (!plain(row)) continue;
    if (!list) candidates.set(channel, (list = []));
    list.push(cols.paths[row]!);
  }
  const layouts = new Map<string, TiffSamples>();
  await Promise.all(
    [...candidates].map(async ([channel, paths]) => {
      const layout = await firstReadable(root, paths);
      if (layout && layout.samplesPerPixel > 1) layouts.set(channel, layout);
    }),
  );
  if (layouts.size === 0) return cols;
  let noChannels = true;
  for (let row = 0; row < cols.length && noChannels; row++) noChannels = channelOf(row) === '1';
  const out = new RecordColumns();
  for (let row = 0; row < cols.length; row++) {
    const r = cols.record(row);
    const layout = plain(row) ? layouts.get(channelOf(row)) : undefined;
    if (!layout) {
      out.add(r.path, r.components, r.page, r.sample);
    } else if (mode === 'luminance' && layout.samplesPerPixel >= 3) {
      out.add(r.path, r.components, undefined, 'luminance');
    } else {
      for (let s = 0; s < layout.samplesPerPixel; s++) {
        out.add(r.path, { ...r.components, channel: sampleChannel(channelOf(row), s, layout, noChannels) }, undefined, s);
      }
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

async function firstReadable(root: string, paths: readonly string[]): Promise<TiffSamples | undefined> {
  for (const p of paths) {
    try {
      return await peekTiffSamples(resolveInside(root, p));
    } catch (err) {
      if (!(err instanceof TiffError || err instanceof StorageError)) throw err;
    }
  }
  return undefined;
}
