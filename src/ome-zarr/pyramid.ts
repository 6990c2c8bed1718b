/**
 * Multiscale levels of the positions plateflow writes: level `n` is level `n-1` averaged over 2×2
 * blocks in Y and X (t, c and z are never reduced, so every level has the source's planes). A
 * level's size is the previous one halved and rounded up; the last row or column of an odd size
 * averages the pixels that exist. Integer dtypes round the mean to the nearest integer.
 *
 * ```
 * B/3/0/          image group: multiscales.datasets = [0, 1, 2] with scale ×1, ×2, ×4 in y, x
 *   0/            full resolution, T C Z Y X
 *   1/            T C Z ⌈Y/2⌉ ⌈X/2⌉
 *   2/            T C Z ⌈Y/4⌉ ⌈X/4⌉
 * ```
 *
 * Planes are reduced one at a time as they are written, so a writer never holds more than the
 * plane it was given, and positions written in parallel stay independent.
 *
 * @module
 */
import path from 'node:path';
import { ZarrError } from '../errors.js';
import { allocate, dtypeOf, type PixelArray } from '../image.js';
import { ZarrArray } from '../storage/zarr-array.js';
import { readGroup } from '../storage/zarr-io.js';
import { parseImage } from './ngff.js';

/** Levels stop once a plane's longer side is below this many pixels (napari and viewers open that at once). */
export const LEVEL_TARGET_PIXELS = 1024;

/**
 * How many levels a Y×X plane gets: `requested` when given (capped where a level would be a single
 * pixel), else enough that the last level's longer side is below 1024 pixels.
 *
 * @throws RangeError when `requested` is not a positive integer.
 */
export function levelCount(y: number, x: number, requested?: number): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) throw new RangeError(`levels must be a positive integer, got ${requested}`);
  let levels = 1;
  let side = Math.max(y, x);
  while (requested !== undefined ? levels < requested && side > 1 : side >= LEVEL_TARGET_PIXELS) {
    side = Math.ceil(side / 2);
    levels++;
  }
  return levels;
}

/** Y×X size of `level` for a level-0 plane of y×x. */
export function levelShape(y: number, x: number, level: number): [number, number] {
  let h = y;
  let w = x;
  for (let l = 0; l < level; l++) {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  return [h, w];
}

/** The 2×2 block means of an h×w plane: a ⌈h/2⌉×⌈w/2⌉ plane of the same dtype. */
export function downsample2x(plane: PixelArray, h: number, w: number): PixelArray {
  const oh = Math.ceil(h / 2);
  const ow = Math.ceil(w / 2);
  const dtype = dtypeOf(plane);
  const out = allocate(dtype, oh * ow);
  const round = !dtype.startsWith('float');
  for (let i = 0; i < oh; i++) {
    const r0 = 2 * i * w;
    const r1 = 2 * i + 1 < h ? r0 + w : -1;
    for (let j = 0; j < ow; j++) {
      const c0 = 2 * j;
      const c1 = c0 + 1 < w ? c0 + 1 : -1;
      let sum = plane[r0 + c0]!;
      let n = 1;
      if (c1 >= 0) (sum += plane[r0 + c1]!), n++;
      if (r1 >= 0) {
        sum += plane[r1 + c0]!;
        n++;
        if (c1 >= 0) (sum += plane[r1 + c1]!), n++;
      }
      const mean = sum / n;
      out[i * ow + j] = round ? Math.round(mean) : mean;
    }
  }
  return out;
}

/**
 * The reduced levels (1, 2, …) of the image group holding `level0`, from its multiscales; cached
 * per level-0 array, so writing many planes reads the group once.
 */
const reducedLevels = new WeakMap<ZarrArray, Promise<ZarrArray[]>>();

function levelsOf(level0: ZarrArray): Promise<ZarrArray[]> {
  let levels = reducedLevels.get(level0);
  if (!levels) {
    levels = (async () => {
      const group = path.dirname(level0.dir);
      const info = await readGroup(group);
      if (!info) throw new ZarrError(group, 'the image group of this array is missing');
      const datasets = parseImage(info.attributes, group).multiscale.datasets;
      if (path.resolve(group, datasets[0]!.path) !== path.resolve(level0.dir)) return [];
      return Promise.all(datasets.slice(1).map((d) => ZarrArray.open(path.join(group, d.path))));
    })();
    reducedLevels.set(level0, levels);
    levels.catch(() => reducedLevels.delete(level0));
  }
  return levels;
}

/**
 * Writes `plane` at `coords` (t, c, z) of `level0` and its 2×2 means into every reduced level the
 * image group lists.
 *
 * @throws ZarrError / StorageError as `ZarrArray.writePlane` does, or when the image group is unreadable.
 */
export async function writePlaneLevels(level0: ZarrArray, coords: readonly number[], plane: PixelArray): Promise<void> {
  await level0.writePlane(coords, plane);
  let [h, w] = level0.shape.slice(-2) as [number, number];
  let current = plane;
  for (const level of await levelsOf(level0)) {
    current = downsample2x(current, h, w);
    [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
    await level.writePlane(coords, current);
  }
}

/** Every level array of the image group holding `level0`, level 0 first. */
export async function pyramidArrays(level0: ZarrArray): Promise<ZarrArray[]> {
  return [level0, ...(await levelsOf(level0))];
}
