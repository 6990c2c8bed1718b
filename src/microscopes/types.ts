import type { SampleChoice } from '../storage/tiff-samples.js';

/** One image file (or one page/plane of a container) and the component values it carries. */
export interface ImageRecord {
  /** POSIX path relative to the plate root; never absolute, never containing `..`. */
  readonly path: string;
  readonly components: Readonly<Record<string, string>>;
  /** Page of a multi-page file, when one file holds several planes. */
  readonly page?: number;
  /**
   * Which sample of a multi-sample (colour) TIFF this record reads: its index, or `'luminance'`
   * (see `expandSamples`). Absent for single-sample files.
   */
  readonly sample?: SampleChoice;
}

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

export interface PlateGrid {
  readonly rows: number;
  readonly columns: number;
}

/** Everything discovery learned about a plate. Values in `components` are naturally sorted. */
export interface PlateIndex {
  /** Absolute path of the plate folder. */
  readonly root: string;
  /** Format name as shown to users, e.g. 'ImageXpress', 'ArrayScan', 'OperaPhenix', 'pattern', 'plateflow'. */
  readonly format: string;
  readonly images: readonly ImageRecord[];
  readonly components: Readonly<Record<string, readonly string[]>>;
  /**
   * What was left out, with the reason: image-like files no parser matched (lenient mode only;
   * strict mode throws instead), files listed in metadata but missing, and plateflow output folders
   * inside the plate (never read as input).
   */
  readonly skipped: readonly SkippedFile[];
  readonly grid?: PlateGrid;
}
