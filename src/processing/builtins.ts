/**
 * The built-in processing functions, listed explicitly (no registration by import side effect), so
 * the main thread and every worker see the same set.
 */
import { countObjectsFunction } from './count-objects.js';
import { gaussianBlurFunction } from './gaussian.js';
import { illuminationCorrectFunction } from './illumination-correct.js';
import { imageStatsFunction } from './image-stats.js';
import { labelFunction } from './label.js';
import { maxProjectionFunction } from './max-projection.js';
import { meanProjectionFunction } from './mean-projection.js';
import { otsuThresholdFunction } from './otsu.js';
import { percentileNormalizeFunction } from './percentile-normalize.js';
import { sumProjectionFunction } from './sum-projection.js';
import type { FunctionDefinition } from './types.js';

export const BUILTIN_FUNCTIONS: readonly FunctionDefinition[] = Object.freeze([
  maxProjectionFunction,
  meanProjectionFunction,
  sumProjectionFunction,
  gaussianBlurFunction,
  otsuThresholdFunction,
  labelFunction,
  countObjectsFunction,
  imageStatsFunction,
  percentileNormalizeFunction,
  illuminationCorrectFunction,
]);
