/**
 * plateflow's public API. Every export is named here; `test/public-api.test.ts` pins the list so
 * any change to the surface is a reviewed diff. Worker entry files are never exported.
 *
 * @module
 */

// errors
export {
  AbortError,
  ConfigError,
  DiscoveryError,
  PipelineError,
  PlateflowError,
  StepFailedError,
  StorageError,
  TiffError,
  UnsafePathError,
  ZarrError,
  isPlateflowError,
  serializeError,
  type ErrorCode,
  type ErrorContext,
  type SerializedError,
} from './errors.js';

// images
export { createStack, planeOf, stackPlanes, type DType, type ImageStack, type PixelArray } from './image.js';

// discover
export { createComponentConfig, type ComponentConfig, type ComponentConfigInput } from './components/config.js';
export { applyFilter, type KeyFilter } from './components/filters.js';
export { naturalCompare } from './components/natural-sort.js';
export { clearComponentCache, discoverPlate, type DiscoverOptions } from './microscopes/discover.js';
export type { ColorMode } from './microscopes/samples.js';
export { formatNames } from './microscopes/registry.js';
export type { AcquisitionMetadata, ImageRecord, PixelSize, PlateGrid, PlateIndex, PlateRecords, SkippedFile, StagePosition } from './microscopes/types.js';

// pipeline and compile
export { loadPipelineFile, type LoadedPipeline } from './pipeline/load.js';
export { FunctionRegistry, type RegisteredFunction } from './pipeline/registry.js';
export { parsePipeline } from './pipeline/schema.js';
export { FunctionStep, definePipeline, type FuncPattern, type PipelineDefinition, type StepDefinition } from './pipeline/types.js';
export { BUILTIN_FUNCTIONS } from './processing/builtins.js';
export type { FunctionContext, FunctionDefinition, FunctionOutput, ImageFunction } from './processing/types.js';
export { compile, type CompileOptions, type CompiledRun } from './compiler/compile.js';
export type { OutputFormat, OutputFormatInput } from './compiler/output-format.js';
export type { FuncCall, StepPlan, TaskPlan } from './compiler/plan.js';

// execute
export { Coordinator, type CoordinatorOptions, type RunOutcome } from './execution/coordinator.js';
export type { ExecuteOptions, Executor, ExecutorDescription, PrepareContext, RunEvent } from './execution/executor.js';
export { SerialExecutor } from './execution/executors/serial.js';
export { createExecutor } from './execution/executors/create.js';
export type { ExecutorKind, ExecutorOptions } from './execution/executors/options.js';
export { TaskKilledError, TaskTimeoutError, type KillReason } from './execution/executors/errors.js';
export { PythonFunctionError, PythonLoadError, PythonResultError, PythonUnavailableError, type PythonException, type PythonFrame } from './python/errors.js';
export { probePython, type PythonInfo } from './python/probe.js';
export { PythonWorker, type PythonCallOptions, type PythonWorkerOptions } from './python/worker.js';
export { parsePythonRef, type PythonTarget } from './python/target.js';

// distributed (BullMQ + Redis)
export {
  BullmqExecutor,
  JobFailedError,
  RunNotFoundError,
  createBullmqExecutor,
  formatRunStatus,
  getRunStatus,
  startWorker,
  type BullmqExecutorOptions,
  type PlateflowWorker,
  type RunStatus,
  type TaskState,
  type WorkerEvent,
  type WorkerOptions,
} from './distributed/index.js';
export { availableCpus, probeCpus, type CpuProbe, type CpuSource } from './execution/resources/cpus.js';
export { probeGpus, type GpuInfo, type GpuProbe } from './execution/resources/gpus.js';
export type { RunPeakRss } from './execution/resources/peak-rss.js';
export type { MeasurementRow, TaskResult, TaskStatus } from './execution/result.js';
export { runPlate, type PlateRun, type RunPlateOptions } from './run/run-plate.js';
export { OutputLockedError } from './run/output-lock.js';
export type { SaveFailure } from './run/save-failure.js';
export { runTask, type RunTaskOptions } from './execution/run-task.js';

// batch runs: many plates, preflight, checkpoints
export { runBatch, type BatchOptions, type BatchRun, type SkippedPlate } from './run/run-batch.js';
export { preflight, PreflightError, type PreflightEstimate, type PreflightOptions, type PreflightReport } from './run/preflight.js';

// store
export { writeFileAtomic } from './storage/atomic.js';
export { FileManager } from './storage/file-manager.js';
// runTask's callers merge TaskResult.metadata with addMetadataFiles (runPlate and the coordinator do it for you).
export { addMetadataFiles, readMetadata } from './storage/metadata.js';
export type { SubdirectoryFiles } from './storage/metadata-types.js';
export { decodeTiff, readTiff, type ReadTiffOptions } from './storage/tiff-read.js';
export type { SampleChoice } from './storage/tiff-samples.js';
export { encodeTiff, writeTiff } from './storage/tiff-write.js';

// OME-Zarr plates
export {
  OmeZarrPlateWriter,
  addPosition,
  convertPlate,
  openOmeZarrPlate,
  processPosition,
  type ConvertOptions,
  type ConvertResult,
  type FunctionRef,
  type NgffVersion,
  type OmeZarrPlate,
  type PlateWriteOptions,
  type PositionSpec,
  type ProcessPositionOptions,
  type ProcessPositionResult,
  type Volume,
  type VolumeFunction,
} from './ome-zarr/index.js';
export { ZarrArray } from './storage/zarr-array.js';

// shared-memory chunked arrays
export {
  ChunkFailedError,
  InlinePool,
  Orchestrator,
  SharedArray,
  axisChunks,
  chunkRanges,
  createChunkPool,
  mapAffine,
  reduceArray,
  tilePlan,
  tiledGaussian,
  tiledOtsu,
  type ArrayDType,
  type ArrayStats,
  type ChunkPool,
  type ChunkWorkerModule,
  type Range,
  type SharedArrayHandle,
  type Tile,
} from './arrays/index.js';

// report
export { formatBatchSummary, formatSummary } from './report/summary.js';
export { chooseProgressMode, createProgressReporter, type ProgressMode, type ProgressReporter } from './report/progress.js';
export { renderReport, writeReport } from './report/html.js';
export { measurementsByImage, runDocument, totalsOf, writeRunFiles, type RunReportFiles, type RunTotals } from './report/results.js';
export type { RunDocument } from './report/document.js';

// tools
export { synthesizePlate, type SynthOptions } from './synth/plate.js';
