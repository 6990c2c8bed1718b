/** The processing folder's public surface: the built-in list, kwargs validation and the typed-array kernels. */
export { BUILTIN_FUNCTIONS } from './builtins.js';
export { parseKwargs } from './kwargs.js';
export { defineFunction, type FunctionSpec } from './define.js';
export { maxProjection } from './max-projection.js';
export { meanProjection } from './mean-projection.js';
export { sumProjection } from './sum-projection.js';
export { gaussianBlur, gaussianHalfKernel, gaussianRadius } from './gaussian.js';
export { otsuThreshold } from './otsu.js';
export { labelPlane, labelStack, type Connectivity } from './label.js';
export { countLabels } from './count-objects.js';
export { planeStats, type PlaneStats } from './image-stats.js';
export { percentiles } from './percentile.js';
export { percentileNormalize } from './percentile-normalize.js';
export { estimateFlatField, illuminationCorrect } from './illumination-correct.js';
