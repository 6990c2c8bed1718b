import type { AcquisitionMetadata, PlateGrid } from '../microscopes/types.js';

/**
 * `plateflow_metadata.json` at the root of every output folder. It makes the folder a valid input
 * plate: each sub-directory lists its files with their component values.
 */
export interface PlateflowMetadata {
  readonly format: 'plateflow';
  readonly version: 1;
  readonly subdirectories: Readonly<Record<string, SubdirectoryMetadata>>;
}

export interface SubdirectoryMetadata {
  /** Handler that reads this sub-directory back ('plateflow' for our TIFF output). */
  readonly handler: string;
  /** Format of the plate the data came from, e.g. 'ImageXpress'. */
  readonly sourceFormat: string;
  readonly backend: 'disk' | 'zarr';
  /** True for the pipeline's main (final materialized) output. */
  readonly main: boolean;
  readonly grid: PlateGrid | null;
  /** The source plate's channel names, pixel size, positions, …, when its metadata had any. */
  readonly acquisition?: AcquisitionMetadata;
  /** Naturally sorted values per component, over all files. */
  readonly components: Readonly<Record<string, readonly string[]>>;
  /** File name (relative to the sub-directory) → its component values. */
  readonly files: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Files written into one sub-directory (by one task, say), to be merged into the metadata. */
export interface SubdirectoryFiles {
  readonly subdir: string;
  /** The sub-directory's description; the latest one added wins. */
  readonly base: Omit<SubdirectoryMetadata, 'files' | 'components'>;
  /** File name (relative to the sub-directory) → its component values. */
  readonly files: Readonly<Record<string, Readonly<Record<string, string>>>>;
}
