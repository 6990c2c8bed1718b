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

/**
 * The images of a plate as columns: row `i` is `PlateIndex.images[i]`, without building that object.
 * A plate of a million files is kept as one path string per file plus a few integers per component,
 * so discovering, filtering and compiling it stays fast and small; `record(i)` (and
 * `PlateIndex.images`) build the record objects only when asked, once each.
 */
export interface PlateRecords {
  /** Number of rows (images). */
  readonly length: number;
  /**
   * Component name → its values, naturally sorted; `valueIndexOf` points into these lists. For an
   * index from `discoverPlate` this is `PlateIndex.components`.
   */
  readonly components: Readonly<Record<string, readonly string[]>>;
  path(row: number): string;
  page(row: number): number | undefined;
  sample(row: number): SampleChoice | undefined;
  /**
   * A reader of one component: row → position of the row's value in `components[component]`, or
   * -1 when the row has no value for it (or the plate has no such component). Positions follow the
   * natural order of the values, so they sort and compare as the values do.
   */
  valueIndexOf(component: string): (row: number) => number;
  /** Row `row` as a frozen `ImageRecord` (built on first use, then the same object every time). */
  record(row: number): ImageRecord;
}

/** Everything discovery learned about a plate. Values in `components` are naturally sorted. */
export interface PlateIndex {
  /** Absolute path of the plate folder. */
  readonly root: string;
  /** Format name as shown to users, e.g. 'ImageXpress', 'ArrayScan', 'OperaPhenix', 'pattern', 'plateflow'. */
  readonly format: string;
  /**
   * The images as record objects, in plate order. An index from `discoverPlate` builds this array on
   * first access (a million records cost about 100 MB); code that only counts or groups images
   * should read `records` instead.
   */
  readonly images: readonly ImageRecord[];
  /**
   * The same images as columns (see `PlateRecords`). Every index from `discoverPlate` has it; an
   * index built by hand may leave it out, and `compile` then derives it from `images`.
   */
  readonly records?: PlateRecords;
  readonly components: Readonly<Record<string, readonly string[]>>;
  /**
   * What was left out, with the reason: image-like files no parser matched (lenient mode only;
   * strict mode throws instead), files listed in metadata but missing, and plateflow output folders
   * inside the plate (never read as input).
   */
  readonly skipped: readonly SkippedFile[];
  readonly grid?: PlateGrid;
  /** What the microscope's own metadata says (channel names, pixel size, …), when it says anything. */
  readonly acquisition?: AcquisitionMetadata;
}

/**
 * Physical size of one voxel, in micrometres: `x`, `y` from the instrument's spatial calibration,
 * `z` the step between planes (absent for single-plane plates or when the source does not say).
 */
export interface PixelSize {
  readonly x: number;
  readonly y: number;
  readonly z?: number;
  readonly unit: 'micrometer';
}

/** A stage position in micrometres (Opera Phenix `PositionX/Y/Z`, converted from metres). */
export interface StagePosition {
  readonly x?: number;
  readonly y?: number;
  readonly z?: number;
}

/**
 * Acquisition metadata read from the microscope's own files (Opera Phenix `Index.idx.xml`,
 * ImageXpress `.HTD` and MetaXpress TIFF descriptions, an OME-Zarr plate's multiscales). Every
 * field is optional: a source says what it says, nothing is guessed. Keys are component values.
 */
export interface AcquisitionMetadata {
  /** Where it came from, e.g. `Images/Index.idx.xml`, for people reading outputs. */
  readonly source?: string;
  /** Channel value → name, e.g. `{ '1': 'HOECHST 33342' }`. */
  readonly channels?: Readonly<Record<string, string>>;
  /** Channel value → main emission (or MetaXpress) wavelength in nanometres. */
  readonly wavelengths?: Readonly<Record<string, number>>;
  readonly pixelSize?: PixelSize;
  /** Site value → stage position of that field (the first plane's). */
  readonly sites?: Readonly<Record<string, StagePosition>>;
  /** z value → focus position of that plane, relative to the instrument's reference. */
  readonly planes?: Readonly<Record<string, number>>;
  /** Timepoint value → seconds since the measurement started. */
  readonly timepoints?: Readonly<Record<string, number>>;
}
