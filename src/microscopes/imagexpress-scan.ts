/**
 * The allocation-free reader of flat ImageXpress names (`parseInto` of the ImageXpress handler):
 * a character scanner that reads `[<prefix>_]<well>[_s<n>][_w<n>][_z<n>][_t<n>].tif` into value ids
 * without building a match, a groups object or a value string per file — a million-file plate
 * would otherwise make several million short-lived objects.
 *
 * It must agree with the handler's regular expression (`imagexpress.ts`), which stays the
 * definition. So it only answers where the answer is certain: for names in folders, thumbnails,
 * GUID suffixes, digit runs followed by anything but `_` or `.`, or numbers of more than 9 digits
 * it declines, and `parse` reads the name. A property test (`test/discovery-compact.test.ts`)
 * holds the two to the same records on random names.
 *
 * @module
 */
import { rowLetters } from '../components/wells.js';
import { ValueCache, type RecordColumns } from './record-columns.js';

const UNDERSCORE = 95;
const DOT = 46;
const COMPONENTS = ['well', 'site', 'channel', 'z', 'timepoint'] as const;
/** Tag letter of each number after the well, in the order the name carries them. */
const TAGS = [115 /* s */, 119 /* w */, 122 /* z */, 116 /* t */];
/** Up to 9 digits a number is exact in an int32 and its string equals the digits without leading zeros. */
const MAX_DIGITS = 9;
/** Names left to `parse`: in folders (`/`), thumbnails (`_thumb`), or with a line break (`.` in the regex stops there). */
const DECLINE = /[/\n\r\u2028\u2029]|_thumb/i;

/** Per plate: the five columns with their values by number, and the numbers of the name being read (-1: absent). */
interface Interned {
  readonly values: ValueCache<number>;
  readonly numbers: Int32Array;
}

const state = new WeakMap<RecordColumns, Interned>();

function internedFor(cols: RecordColumns): Interned {
  let s = state.get(cols);
  if (!s) {
    s = { values: new ValueCache<number>(cols, COMPONENTS), numbers: new Int32Array(TAGS.length) };
    state.set(cols, s);
  }
  return s;
}

/** Wells are cached under `row * 1000 + column` (columns have at most 3 digits). */
const WELL_KEY = 1000;
const wellText = (key: number): string => rowLetters(Math.floor(key / WELL_KEY)) + String(key % WELL_KEY).padStart(2, '0');

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;

/** Outcome of reading the name from one start position. */
const NO_MATCH = 0;
const MATCH = 1;
const UNSURE = 2;

/**
 * Reads `relPath` into `cols` and returns true, or returns false when the name is not a flat
 * ImageXpress name this scanner is certain about (then `parse` decides).
 */
export function scanImageXpressName(relPath: string, cols: RecordColumns): boolean {
  if (DECLINE.test(relPath)) return false;
  const s = internedFor(cols);
  // The regular expression reads the name without a prefix first, then with the shortest prefix
  // ending in `_` that lets the rest match: the same start positions, in the same order.
  for (let start = 0; start >= 0; start = nextStart(relPath, start)) {
    const r = readFrom(relPath, start, s);
    if (r === UNSURE) return false;
    if (r === MATCH) {
      cols.addIds(relPath, s.values.cols, s.values.ids);
      return true;
    }
  }
  return false;
}

function nextStart(name: string, start: number): number {
  const u = name.indexOf('_', start);
  return u < 0 ? -1 : u + 1;
}

/** Reads the name from `p` on: the well, the tagged numbers, the extension. Fills `s.values.ids` on a match. */
function readFrom(name: string, p: number, s: Interned): number {
  const n = name.length;
  let letters = 0;
  while (p + letters < n && isUpper(name.charCodeAt(p + letters))) letters++;
  if (letters === 0 || letters > 2) return NO_MATCH;
  let q = p + letters;
  const digitsStart = q;
  while (q < n && isDigit(name.charCodeAt(q))) q++;
  const digits = q - digitsStart;
  if (digits === 0) return NO_MATCH;
  if (digits > 3 || !isTerminator(name, q)) return UNSURE;
  const column = digitValue(name, digitsStart, q);
  // The expression matches, but `A00` is no well: `parse` says so.
  if (column < 1) return UNSURE;
  let row = 0;
  for (let i = p; i < p + letters; i++) row = row * 26 + (name.charCodeAt(i) - 64);
  row -= 1;

  const numbers = s.numbers;
  numbers.fill(-1);
  let tag = 0;
  while (q < n && name.charCodeAt(q) === UNDERSCORE) {
    const letter = name.charCodeAt(q + 1);
    while (tag < TAGS.length && TAGS[tag] !== letter) tag++;
    if (tag === TAGS.length || !isDigit(name.charCodeAt(q + 2))) return NO_MATCH;
    let e = q + 2;
    while (e < n && isDigit(name.charCodeAt(e))) e++;
    if (e - (q + 2) > MAX_DIGITS || !isTerminator(name, e)) return UNSURE;
    numbers[tag] = digitValue(name, q + 2, e);
    tag++;
    q = e;
  }
  if (!isTiffExtension(name, q)) return NO_MATCH;

  const ids = s.values.ids;
  ids[0] = s.values.id(0, row * WELL_KEY + column, wellText);
  for (let k = 0; k < numbers.length; k++) ids[k + 1] = s.values.id(k + 1, numbers[k] === -1 ? 1 : numbers[k]!, String);
  return MATCH;
}

/** The number written by the ASCII digits `name[from, to)`. */
function digitValue(name: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + (name.charCodeAt(i) - 48);
  return v;
}

/** After a digit run only `_` (next tag) or `.` (extension) keep the reading certain; anything else may be a GUID. */
function isTerminator(name: string, i: number): boolean {
  const c = name.charCodeAt(i);
  return c === UNDERSCORE || c === DOT;
}

/** `.tif` / `.tiff` in any case, ending the name. */
function isTiffExtension(name: string, i: number): boolean {
  const rest = name.length - i;
  if ((rest !== 4 && rest !== 5) || name.charCodeAt(i) !== DOT) return false;
  const lower = (k: number): number => name.charCodeAt(i + k) | 32;
  return lower(1) === 116 && lower(2) === 105 && lower(3) === 102 && (rest === 4 || lower(4) === 102);
}
