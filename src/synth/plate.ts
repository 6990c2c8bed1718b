import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createStack } from '../image.js';
import { writeTiff } from '../storage/tiff-write.js';
import { mulberry32 } from './random.js';

export interface SynthOptions {
  readonly wells?: number;
  readonly sites?: number;
  readonly channels?: number;
  readonly z?: number;
  readonly size?: number;
  readonly seed?: number;
  /** Called after each image is written, for progress display. */
  readonly onImage?: (written: number, total: number) => void;
}

export interface SynthResult {
  readonly root: string;
  readonly images: number;
  readonly wells: readonly string[];
}

const ROWS = 'ABCDEFGHIJKLMNOP';

export function wellNames(count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 384) throw new RangeError(`wells must be an integer from 1 to 384, got ${count}`);
  return Array.from({ length: count }, (_, i) => `${ROWS[Math.floor(i / 24)]}${String((i % 24) + 1).padStart(2, '0')}`);
}

/**
 * Writes a deterministic ImageXpress-style plate (`TimePoint_1/ZStep_<z>/<well>_s<site>_w<c>.tif`,
 * uint16): nuclei-like blobs in channel 1, dimmer diffuse signal in the others, an illumination
 * falloff and Poisson-like noise, so projection, thresholding and counting all have real work.
 * The same options give the same bytes.
 */
export async function synthesizePlate(dir: string, options: SynthOptions = {}): Promise<SynthResult> {
  const { wells = 4, sites = 2, channels = 2, z = 3, size = 256, seed = 1 } = options;
  for (const [name, value, max] of [['sites', sites, 100], ['channels', channels, 10], ['z', z, 100], ['size', size, 8192]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  if (size < 32) throw new RangeError(`size must be at least 32, got ${size}`);
  const random = mulberry32(seed);
  const falloff = illumination(size);
  const names = wellNames(wells);
  const total = names.length * sites * channels * z;
  let written = 0;
  for (let zi = 1; zi <= z; zi++) await mkdir(path.join(dir, 'TimePoint_1', `ZStep_${zi}`), { recursive: true });
  for (const well of names) {
    for (let site = 1; site <= sites; site++) {
      const blobs = nuclei(random, size, 20 + Math.floor(random() * 40));
      for (let ch = 1; ch <= channels; ch++) {
        for (let zi = 1; zi <= z; zi++) {
          const focus = 1 - 0.25 * Math.abs(zi - (z + 1) / 2);
          const gain = (ch === 1 ? 3000 : 900) * focus;
          const image = createStack('uint16', 1, size, size);
          for (let i = 0; i < image.data.length; i++) {
            const mean = (300 + blobs[i]! * gain) * falloff[i]!;
            image.data[i] = Math.min(65535, poisson(random, mean));
          }
          await writeTiff(path.join(dir, 'TimePoint_1', `ZStep_${zi}`, `${well}_s${site}_w${ch}.tif`), image);
          options.onImage?.(++written, total);
        }
      }
    }
  }
  return { root: path.resolve(dir), images: total, wells: names };
}

function illumination(size: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const dy = y / size - 0.5;
    for (let x = 0; x < size; x++) {
      const dx = x / size - 0.5;
      out[y * size + x] = 1 - 0.45 * (dy * dy + dx * dx);
    }
  }
  return out;
}

/** Flat-topped blobs, exp(-(d²/2r²)²), drawn only inside each blob's bounding box. */
function nuclei(random: () => number, size: number, count: number): Float32Array {
  const img = new Float32Array(size * size);
  for (let n = 0; n < count; n++) {
    const cy = 10 + random() * (size - 20);
    const cx = 10 + random() * (size - 20);
    const r = 5 + random() * 6;
    const reach = Math.ceil(r * 2.5);
    for (let y = Math.max(0, Math.floor(cy - reach)); y <= Math.min(size - 1, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x <= Math.min(size - 1, Math.ceil(cx + reach)); x++) {
        const q = ((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r);
        img[y * size + x]! += Math.exp(-q * q);
      }
    }
  }
  return img;
}

/** Poisson sample: Knuth's method for small means, a rounded normal approximation for large ones. */
function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean < 30) {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = random();
    while (p > limit) {
      k++;
      p *= random();
    }
    return k;
  }
  const u = Math.max(random(), 1e-12);
  const v = random();
  const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal));
}
