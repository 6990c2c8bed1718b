/**
 * The peer pipeline's per-(well, site) object counts on all 72 BBBC016 ArrayScan images, recomputed
 * with plateflow's built-ins (max project → Gaussian σ2 → Otsu 256 → 4-connected labels → ≥ 20 px).
 * Skips when the shared data set is absent.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARRAYSCAN_DIR, arrayscanAvailable, readArrayscanCounts, readSimpleTiff } from './golden/golden-io.js';
import { peerSegment } from './golden/pipeline.js';

describe.skipIf(!arrayscanAvailable())('arrayscan: 72 real images vs the Python peer', () => {
  it('same threshold, foreground, label count and object count for every image', () => {
    const golden = readArrayscanCounts();
    expect(golden.images).toHaveLength(72);
    const mismatches: string[] = [];
    for (const img of golden.images) {
      const got = peerSegment(readSimpleTiff(path.join(ARRAYSCAN_DIR, img.file)), 4, golden.min_size);
      const same =
        got.threshold === img.threshold && got.foreground === img.foreground && got.labels === img.labels && got.objects === img.count;
      if (!same) mismatches.push(`${img.file}: got ${JSON.stringify(got, ['threshold', 'foreground', 'labels', 'objects'])}, want ${JSON.stringify(img)}`);
    }
    expect(mismatches).toEqual([]);
    expect(Object.keys(golden.counts)).toHaveLength(72);
  });
});
