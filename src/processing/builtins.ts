/**
 * The built-in processing functions, listed explicitly (no registration by import side effect), so
 * the main thread and every worker see the same set. Those with a tiled form get it here (see
 * `arrays/tiled-functions.ts`), so the kernel modules stay free of thread code.
 */
import { tiledGaussianForm, withTiles } from '../arrays/tiled-functions.js';
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
  withTiles(gaussianBlurFunction, tiledGaussianForm),
  otsuThresholdFunction,
  labelFunction,
  countObjectsFunction,
  imageStatsFunction,
  percentileNormalizeFunction,
  illuminationCorrectFunction,
]);
