import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Every runtime export of the package, listed by hand: adding or removing one must be a visible diff.
const EXPECTED = [
  'AbortError', 'BUILTIN_FUNCTIONS', 'ConfigError', 'Coordinator', 'DiscoveryError', 'FileManager', 'FunctionRegistry',
  'FunctionStep', 'PipelineError', 'PlateflowError', 'SerialExecutor', 'StepFailedError', 'StorageError', 'TiffError',
  'UnsafePathError', 'applyFilter', 'clearComponentCache', 'compile', 'createComponentConfig', 'createStack', 'decodeTiff',
  'definePipeline', 'discoverPlate', 'encodeTiff', 'formatNames', 'formatSummary', 'isPlateflowError', 'loadPipelineFile',
  'addMetadataFiles', 'measurementsByImage', 'naturalCompare', 'parsePipeline', 'planeOf', 'readMetadata', 'readTiff', 'runPlate', 'runTask',
  'serializeError', 'stackPlanes', 'synthesizePlate', 'totalsOf', 'writeFileAtomic', 'writeRunFiles', 'writeTiff',
  'OmeZarrPlateWriter', 'ZarrArray', 'ZarrError', 'addPosition', 'convertPlate', 'openOmeZarrPlate', 'processPosition',
  'TaskKilledError', 'TaskTimeoutError', 'availableCpus', 'createExecutor', 'probeCpus', 'probeGpus',
  'runBatch', 'preflight', 'PreflightError', 'OutputLockedError', 'runDocument',
  'ChunkFailedError', 'InlinePool', 'Orchestrator', 'SharedArray', 'axisChunks', 'chunkRanges', 'createChunkPool', 'mapAffine',
  'reduceArray', 'tilePlan', 'tiledGaussian', 'tiledOtsu',
  'formatBatchSummary', 'chooseProgressMode', 'createProgressReporter', 'renderReport', 'writeReport',
  'PythonFunctionError', 'PythonLoadError', 'PythonResultError', 'PythonUnavailableError', 'PythonWorker', 'parsePythonRef', 'probePython',
  'BullmqExecutor', 'JobFailedError', 'RunNotFoundError', 'createBullmqExecutor', 'formatRunStatus', 'getRunStatus', 'startWorker',
];

it('exports exactly the reviewed public API', () => {
  expect(Object.keys(api).sort()).toEqual([...EXPECTED].sort());
});
