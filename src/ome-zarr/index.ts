/**
 * OME-Zarr plates: write, read, convert, and per-position processing with resume.
 * Named exports only; the worker entries (`position-worker.ts`, `position-child.ts`) are loaded by
 * path and never exported.
 *
 * @module
 */
export { convertPlate, describeConvert, type ConvertOptions, type ConvertProgress, type ConvertResult } from './convert.js';
export { positionPath, wellGroup, type PositionSpec, type Tczyx } from './layout.js';
export { MARKER_DIR, unitId, type UnitSpec } from './markers.js';
export { NGFF_VERSIONS, parseNgffVersion, zarrVersionOf, type NgffVersion, type PlateflowImageAttrs } from './ngff.js';
export { openOmeZarrPlate, type OmeZarrPlate, type OmeZarrPosition } from './plate-reader.js';
export { addPosition, OmeZarrPlateWriter, PLATE_LOCK, type PlaneIndex, type PlateWriteOptions } from './plate-writer.js';
export type { PositionExecutor } from './pools.js';
export { processPosition, type ProcessPositionOptions, type ProcessPositionResult, type UnitResult } from './process-position.js';
export type { FunctionRef, UnitContext, Volume, VolumeFunction } from './unit.js';
