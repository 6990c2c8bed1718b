import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, type DType, type ImageStack } from '../src/image.js';
import { BUILTIN_FUNCTIONS } from '../src/processing/builtins.js';
import { isFunctionOutput, type FunctionDefinition } from '../src/processing/types.js';

/**
 * The dtypes TIFF reading added (int8, int16, float64) through every built-in: a kernel either gives
 * exactly what it gives for the same values in a dtype it has always handled (int32 for the signed
 * integers, float32 for float64 values float32 holds exactly), or refuses with a message naming the
 * dtypes it needs.
 */

const KWARGS: Readonly<Record<string, Record<string, unknown>>> = { gaussian_blur: { sigma: 1.5 }, illumination_correct: { sigma: 2 } };

async function run(def: FunctionDefinition, stack: ImageStack): Promise<{ stack: ImageStack; measurements: unknown }> {
  const kwargs = def.kwargs.parse(KWARGS[def.name] ?? {});
  const components = Array.from({ length: stack.shape[0] }, () => ({ well: 'A01' }));
  const result = await def.run(stack, kwargs, { components });
  return isFunctionOutput(result) ? { stack: result.stack, measurements: result.measurements } : { stack: result, measurements: undefined };
}

function stackOf(dtype: DType, values: readonly number[], shape: readonly [number, number, number]): ImageStack {
  const data = allocate(dtype, values.length);
  values.forEach((v, i) => (data[i] = v));
  return { dtype, shape, data } as ImageStack;
}

/** Output as comparable plain values; an output in the input's own dtype is compared as numbers only. */
const plain = (r: { stack: ImageStack; measurements: unknown }) => ({ shape: r.stack.shape, values: Array.from(r.stack.data), measurements: r.measurements });

/** Which wider dtype a new dtype's values are checked against, and the range values are drawn from. */
const PAIRS: ReadonlyArray<readonly [DType, DType, number, number]> = [
  ['int8', 'int32', -128, 127],
  ['int16', 'int32', -32768, 32767],
  ['float64', 'float32', -4096, 4096],
];

describe.each(PAIRS)('%s through every built-in', (dtype, reference, min, max) => {
  const arb = fc
    .record({ planes: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 2, max: 7 }), w: fc.integer({ min: 2, max: 7 }) })
    .chain(({ planes, h, w }) =>
      fc.array(fc.integer({ min, max }), { minLength: planes * h * w, maxLength: planes * h * w }).map((v) => ({ shape: [planes, h, w] as const, values: v })),
    );

  for (const def of BUILTIN_FUNCTIONS) {
    it(`${def.name}: same values as for ${reference}, or a refusal that names the dtypes it needs`, async () => {
      await fc.assert(
        fc.asyncProperty(arb, async ({ shape, values }) => {
          const ours = await run(def, stackOf(dtype, values, shape)).then(plain, (e: unknown) => e as Error);
          const theirs = await run(def, stackOf(reference, values, shape)).then(plain, (e: unknown) => e as Error);
          // A refusal of the data itself (e.g. a flat field with no positive value) must not depend on the dtype.
          if (ours instanceof Error && theirs instanceof Error && ours.message === theirs.message) return;
          if (ours instanceof Error) {
            expect(ours.message).toContain(dtype);
            expect(ours.message).toMatch(/uint8|uint16|uint32|int32|float32/);
            return;
          }
          expect(theirs).not.toBeInstanceOf(Error);
          expect(ours).toEqual(theirs);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('keeps the dtype where a kernel passes it through (max_projection, image_stats)', async () => {
    const stack = stackOf(dtype, [min, max, 0, 1, 2, 3, 4, 5], [2, 2, 2]);
    for (const name of ['max_projection', 'image_stats']) {
      const def = BUILTIN_FUNCTIONS.find((d) => d.name === name)!;
      expect((await run(def, stack)).stack.dtype).toBe(dtype);
    }
  });
});

it('count_objects refuses signed 8/16-bit and float64 images, naming what it needs', async () => {
  const def = BUILTIN_FUNCTIONS.find((d) => d.name === 'count_objects')!;
  for (const dtype of ['int8', 'int16', 'float64'] as const) {
    await expect(run(def, stackOf(dtype, [0, 1, 1, 0], [1, 2, 2]))).rejects.toThrow(new RegExp(`label image \\(uint32/int32\\) or a mask \\(uint8/uint16\\), got ${dtype}`));
  }
});
