/**
 * Shared-memory chunked array processing (seed 004, MPAIO): a `SharedArray` crosses to worker threads
 * as a handle, a chunk plan cuts it into ranges or haloed tiles, and an `Orchestrator` runs a chunk
 * worker module over the plan in an injected pool. `chunk-entry.ts` and `workers/*` are loaded by path
 * in worker threads and are deliberately not exported here.
 */
export { ARRAY_DTYPES, arrayDTypeOf, bytesPerElement, isArrayDType, isImageDType, isIntegerDType, typedView } from './dtype.js';
export type { AnyTypedArray, ArrayDType, TypedArrayByArrayDType } from './dtype.js';
export { SharedArray, cStrides } from './shared-array.js';
export type { SharedArrayHandle } from './shared-array.js';
export { chunkRanges } from './chunks.js';
export type { Range } from './chunks.js';
export { axisChunks, boxSize, contiguousRange, tilePlan } from './tiles.js';
export type { Tile } from './tiles.js';
export { ChunkCancelled } from './chunk-worker.js';
export type { ChunkContext, ChunkReply, ChunkTask, ChunkWorkerModule, ProcessChunk } from './chunk-worker.js';
export { ChunkFailedError, ChunkPlanError } from './errors.js';
export { CHUNK_ENTRY, InlinePool, createChunkPool } from './pool.js';
export type { ChunkPool, ChunkPoolOptions, ChunkPoolRunOptions } from './pool.js';
export { Orchestrator, assertNoPrivateBuffers } from './orchestrator.js';
export type { CompletedChunk, OrchestratorFor, OrchestratorOptions, OrchestratorRunOptions } from './orchestrator.js';
export { MAX_INTEGER_BINS, checkHistogramSpec, combineStats, histogramBins, rangeStats } from './stats.js';
export type { ArrayStats, HistogramSpec } from './stats.js';
export { DEFAULT_CHUNK_ELEMENTS, REDUCE_WORKER, reduceArray } from './reduce.js';
export type { ChunkedOptions } from './reduce.js';
export { AFFINE_WORKER, mapAffine } from './map.js';
export { GAUSSIAN_WORKER, gaussianTiles, tiledGaussian } from './gaussian.js';
export type { TiledGaussianOptions } from './gaussian.js';
export { THRESHOLD_WORKER, tiledOtsu } from './otsu.js';
export type { TiledOtsuResult } from './otsu.js';
