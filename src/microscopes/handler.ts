/**
 * The contract every microscope format implements. A handler is a plain object: it never walks the
 * disk itself (discovery lists the plate once and hands the listing to it), and parsing a name is a
 * pure function of the relative path, so the same handler works in the main thread and in workers.
 *
 * @module
 */
import type { RecordColumns } from './record-columns.js';
import type { AcquisitionMetadata, ImageRecord, PlateGrid, PlateRecords, SkippedFile } from './types.js';

/** Every (non-hidden) file under a plate root, as POSIX paths relative to the root, sorted. */
export interface PlateListing {
  /** Absolute path of the plate folder. */
  readonly root: string;
  readonly files: readonly string[];
  /** Folders the walk left out on purpose (plateflow output folders inside the plate), with the reason. */
  readonly skipped?: readonly SkippedFile[];
}

/** Whether a handler fits a listing; when not, a reason a person can act on. */
export type DetectResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What a metadata-driven handler (`index`) found. */
export interface HandlerIndex {
  /** Images with their components; paths relative to the plate root. */
  readonly images: readonly ImageRecord[];
  /** Image files in this handler's scope that it could not describe, with the reason. */
  readonly unmatched: readonly SkippedFile[];
  /** Files that are ignored on purpose (not data), e.g. listed-but-missing files; reported as skipped. */
  readonly skipped?: readonly SkippedFile[];
  readonly grid?: PlateGrid;
  /**
   * Format of the records when it is not the handler's own: plateflow output stored as an
   * OME-Zarr plate is indexed by the plateflow handler, but its records are zarr planes.
   */
  readonly format?: string;
  /** What the metadata says beyond components (channel names, pixel size, …). */
  readonly acquisition?: AcquisitionMetadata;
}

/** How discovery was asked to run, for handlers that read metadata files. */
export interface IndexOptions {
  /** Report an unreadable metadata file as skipped and fall back to file names, instead of failing. */
  readonly lenient?: boolean;
}

export interface FormatHandler {
  /** Format name as shown to users and stored in `PlateIndex.format`, e.g. 'ImageXpress'. */
  readonly name: string;
  /** Other names `discoverPlate({ format })` accepts (compared case-insensitively, ignoring `-` and `_`). */
  readonly aliases?: readonly string[];
  /** The file-name convention, for messages, e.g. `<prefix>_<well>_s<site>_w<channel>.tif`. */
  readonly convention: string;
  /** Components every record of this format carries. */
  readonly components: readonly string[];
  /** Extra image files this handler claims beyond `.tif`/`.tiff` (e.g. other extensions). */
  isImageFile?(relPath: string): boolean;
  /** True for image files that are deliberately not data (e.g. thumbnails); they are ignored silently. */
  ignores?(relPath: string): boolean;
  /** Does this format fit the listing? Must not touch the disk. */
  detect(listing: PlateListing): DetectResult;
  /** Components of one image file, or undefined when the name does not follow the convention. */
  parse(relPath: string): Record<string, string> | undefined;
  /**
   * `parse` for the many names of a large plate: append the record of `relPath` to `cols` as
   * interned value ids (no components object, each distinct raw value normalized once; the
   * ImageXpress scanner allocates nothing at all) and return true, or return false to leave the
   * name to `parse` (names it does not read itself, including those that do not match). What it
   * appends must equal what `parse` returns.
   */
  parseInto?(relPath: string, cols: RecordColumns): boolean;
  /**
   * For formats driven by metadata files: describe the plate from them instead of `parse`-ing each
   * file. Discovery then uses this result as is (plus sorting, duplicate checks and filters);
   * undefined means "no metadata here: parse the files one by one".
   */
  index?(root: string, listing: PlateListing, options?: IndexOptions): Promise<HandlerIndex | undefined>;
  /**
   * For formats whose images are named by file names but whose acquisition metadata lives in
   * other files (a plate file, TIFF tags): read it, given the plate's records. Never fails
   * discovery for metadata alone: unreadable metadata is left out.
   */
  acquisition?(root: string, listing: PlateListing, records: PlateRecords): Promise<AcquisitionMetadata | undefined>;
  /** Plate grid from a plate file (e.g. ImageXpress `.HTD`), when the format has one. */
  grid?(root: string, listing: PlateListing): Promise<PlateGrid | undefined>;
}

const TIFF = /\.tiff?$/i;

/** `.tif` / `.tiff` in any case. */
export function isTiffPath(relPath: string): boolean {
  return TIFF.test(relPath);
}

/** Whether `handler` sees `relPath` as an image file: a TIFF or a file it claims, and not one it ignores. */
function isImageOf(handler: FormatHandler, relPath: string): boolean {
  return (isTiffPath(relPath) || handler.isImageFile?.(relPath) === true) && handler.ignores?.(relPath) !== true;
}

/** Image files of `listing` as `handler` sees them: TIFFs plus what it claims, minus what it ignores. */
export function imageFiles(handler: FormatHandler, listing: PlateListing): string[] {
  return listing.files.filter((f) => isImageOf(handler, f));
}

/** Last segment of a POSIX path. */
export function baseName(relPath: string): string {
  const slash = relPath.lastIndexOf('/');
  return slash < 0 ? relPath : relPath.slice(slash + 1);
}

/** Digits without leading zeros (`'01'` → `'1'`, `'00'` → `'0'`). */
export function stripZeros(digits: string): string {
  const s = digits.replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/**
 * The usual `detect` for per-file formats: fits when at least one image file parses. The reason
 * quotes the convention and an example file, so a user sees at once why a format was rejected.
 */
export function detectByParsing(handler: FormatHandler, listing: PlateListing, extra?: (reason: string) => string): DetectResult {
  // Stops at the first name that parses: on a regular plate that is the first image file.
  let firstImage: string | undefined;
  for (const f of listing.files) {
    if (!isImageOf(handler, f)) continue;
    if (handler.parse(f) !== undefined) return { ok: true };
    firstImage ??= f;
  }
  const example = firstImage ?? listing.files[0];
  const reason = `no file matched ${handler.convention}${example !== undefined ? `; e.g. '${example}'` : ''}`;
  return { ok: false, reason: extra ? extra(reason) : reason };
}
