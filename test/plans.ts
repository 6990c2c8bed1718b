import type { ImageRecord, PlateIndex } from '../src/microscopes/types.js';

/** A plate index built by hand (no files), for compiler tests. */
export function fakePlate(wells: readonly string[], sites = 2, channels = 2, zs = 3, root = '/plates/p1'): PlateIndex {
  const images: ImageRecord[] = [];
  for (const well of wells) {
    for (let s = 1; s <= sites; s++) {
      for (let c = 1; c <= channels; c++) {
        for (let z = 1; z <= zs; z++) {
          images.push({ path: `TimePoint_1/ZStep_${z}/${well}_s${s}_w${c}.tif`, components: { well, site: String(s), channel: String(c), z: String(z), timepoint: '1' } });
        }
      }
    }
  }
  const range = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
  return {
    root,
    format: 'ImageXpress',
    images,
    components: { well: [...wells], site: range(sites), channel: range(channels), z: range(zs), timepoint: ['1'] },
    skipped: [],
  };
}
