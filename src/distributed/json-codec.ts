/**
 * JSON for what crosses Redis (plans, results). Plain JSON would turn a kwarg of `Infinity` or a
 * measurement of `NaN` into `null`, and a run through Redis must compute exactly what a local run
 * computes, so non-finite numbers and -0 travel as a tagged object and come back as numbers.
 * Keys that could reach an object's prototype are refused on the way in: job data comes from a
 * shared Redis, not from us.
 */

const TAG = '$pf:num';

function encodeNumber(n: number): unknown {
  if (Number.isFinite(n) && !Object.is(n, -0)) return n;
  return { [TAG]: Object.is(n, -0) ? '-0' : String(n) };
}

const DECODED: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };

/** Text that may hold a number tag or a key the reviver refuses (over-matching is harmless). */
const SPECIAL = /\$pf:num|__proto__|"constructor"|"prototype"/;

export class JsonCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonCodecError';
  }
}

/** `JSON.stringify` that keeps NaN, ±Infinity and -0. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? encodeNumber(v) : v));
}

/**
 * The inverse of {@link encodeJson}.
 * @throws JsonCodecError for text that is not JSON, an unknown number tag, or a `__proto__` /
 *   `constructor` / `prototype` key
 */
export function decodeJson(text: string): unknown {
  try {
    // A reviver makes JSON.parse several times slower: skip it when there is nothing for it to do.
    if (!SPECIAL.test(text)) return JSON.parse(text);
    return JSON.parse(text, (key, v: unknown) => {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new JsonCodecError(`refusing key "${key}"`);
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && TAG in v) {
        const keys = Object.keys(v);
        const tag = (v as Record<string, unknown>)[TAG];
        if (keys.length !== 1 || typeof tag !== 'string' || !(tag in DECODED)) throw new JsonCodecError(`bad number tag ${JSON.stringify(v)}`);
        return DECODED[tag];
      }
      return v;
    });
  } catch (err) {
    if (err instanceof JsonCodecError) throw err;
    throw new JsonCodecError(`not JSON: ${(err as Error).message}`);
  }
}
