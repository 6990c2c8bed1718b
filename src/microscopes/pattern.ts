/**
 * A handler built from the user's own naming rule, for formats plateflow does not know.
 *
 * Two spellings:
 * - a template: `{well}_s{site}_w{channel}.tif` — each `{name}` captures one or more characters
 *   other than `/` (as few as possible), `{*}` matches anything without capturing, every other
 *   character is literal. Templates match case-insensitively (`.tif` also matches `.TIF`).
 * - a regular expression with named groups: `(?<well>[A-P]\d{2})_(?<site>\d+)\.tiff?` — matched
 *   case-sensitively, as written.
 *
 * Either way the whole name must match. When the rule contains `/` it is matched against the path
 * relative to the plate root (so folders can carry components), otherwise against the file name.
 * Group names become components; standard components the rule lacks are `'1'`. Well values are
 * normalized (`A1` → `A01`) and numeric standard components lose leading zeros, as in the built-in
 * formats. The rule is compiled with `new RegExp`, never evaluated as code.
 *
 * @module
 */
import { DEFAULT_COMPONENT_VALUE, isValidComponentName, STANDARD_COMPONENTS } from '../components/names.js';
import { normalizeWellId } from '../components/wells.js';
import { ConfigError } from '../errors.js';
import { baseName, detectByParsing, stripZeros, type FormatHandler, type PlateListing } from './handler.js';
import { ValueCache, type RecordColumns } from './record-columns.js';

const PLACEHOLDER_VALUE = '[^/]+?';

/** Converts a `{name}` template to regex source, escaping every literal character. */
export function templateToRegExpSource(template: string): { source: string; names: string[] } {
  let source = '';
  const names: string[] = [];
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === '{') {
      const end = template.indexOf('}', i + 1);
      if (end < 0) throw new ConfigError(`pattern '${template}': '{' at position ${i + 1} is never closed; write placeholders as {well}`, { pattern: template });
      const name = template.slice(i + 1, end).trim();
      if (name === '*') {
        source += '[^/]*?';
      } else {
        if (!isValidComponentName(name)) {
          throw new ConfigError(
            `pattern '${template}': placeholder {${name}} is not a component name; use a letter followed by letters or digits, e.g. {well}, {site}`,
            { pattern: template },
          );
        }
        if (names.includes(name)) throw new ConfigError(`pattern '${template}': placeholder {${name}} appears twice; use each component once`, { pattern: template });
        names.push(name);
        source += `(?<${name}>${PLACEHOLDER_VALUE})`;
      }
      i = end + 1;
    } else if (ch === '}') {
      throw new ConfigError(`pattern '${template}': '}' at position ${i + 1} has no matching '{'`, { pattern: template });
    } else {
      source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    }
  }
  return { source, names };
}

function compile(pattern: string): { regex: RegExp; names: string[]; onPath: boolean } {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new ConfigError('pattern is empty; give a template like {well}_s{site}_w{channel}.tif or a regex with named groups', { pattern });
  }
  const isRegex = pattern.includes('(?<');
  const onPath = pattern.includes('/');
  if (!isRegex) {
    if (!pattern.includes('{') && !pattern.includes('}')) {
      throw new ConfigError(
        `pattern '${pattern}' names no components; use {placeholders} (e.g. {well}_s{site}_w{channel}.tif) or a regex with named groups like (?<well>...)`,
        { pattern },
      );
    }
    const { source, names } = templateToRegExpSource(pattern);
    return { regex: new RegExp(`^(?:${source})$`, 'i'), names, onPath };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${pattern})$`);
  } catch (err) {
    throw new ConfigError(`pattern '${pattern}' is not a valid regular expression: ${(err as Error).message}`, { pattern });
  }
  const names = [...pattern.matchAll(/\(\?<([^>=!][^>]*)>/g)].map((m) => m[1]!);
  if (names.length === 0) {
    throw new ConfigError(`pattern '${pattern}' has no named groups; name what each part means, e.g. (?<well>[A-P]\\d{2})`, { pattern });
  }
  for (const n of names) {
    if (!isValidComponentName(n)) {
      throw new ConfigError(`pattern '${pattern}': group name '${n}' is not a component name; use a letter followed by letters or digits`, { pattern });
    }
  }
  return { regex, names, onPath };
}

const NUMERIC_STANDARD = new Set(['site', 'channel', 'z', 'timepoint']);

/**
 * A `FormatHandler` for `pattern` (named `'pattern'` in `PlateIndex.format`).
 *
 * @throws ConfigError (`E_CONFIG_INVALID`) for an empty pattern, an invalid regex, a regex without
 *   named groups, a template without placeholders, or a bad placeholder / group name.
 */
export function createPatternHandler(pattern: string): FormatHandler {
  const { regex, names, onPath } = compile(pattern);
  const components = Object.freeze([...STANDARD_COMPONENTS, ...names.filter((n) => !(STANDARD_COMPONENTS as readonly string[]).includes(n))]);
  // One normalizer per component, shared by `parse` and `parseInto`; a missing group reads as ''.
  const normalize = components.map((c) => (raw: string): string => {
    if (raw === '') return DEFAULT_COMPONENT_VALUE;
    if (c === 'well') return normalizeWellId(raw) ?? raw;
    if (NUMERIC_STANDARD.has(c) && /^\d+$/.test(raw)) return stripZeros(raw);
    return raw;
  });
  const match = (relPath: string): Record<string, string> | undefined => regex.exec(onPath ? relPath : baseName(relPath))?.groups;
  const parse = (relPath: string): Record<string, string> | undefined => {
    const groups = match(relPath);
    if (!groups) return undefined;
    const out: Record<string, string> = {};
    components.forEach((c, k) => (out[c] = normalize[k]!(groups[c] ?? '')));
    return out;
  };
  // Each raw value is normalized once per plate, not once per file (a well id is a regex and three strings).
  const caches = new WeakMap<RecordColumns, ValueCache<string>>();
  const parseInto = (relPath: string, cols: RecordColumns): boolean => {
    const groups = match(relPath);
    if (!groups) return false;
    let cache = caches.get(cols);
    if (!cache) caches.set(cols, (cache = new ValueCache<string>(cols, components)));
    for (let k = 0; k < components.length; k++) cache.ids[k] = cache.id(k, groups[components[k]!] ?? '', normalize[k]!);
    cols.addIds(relPath, cache.cols, cache.ids);
    return true;
  };
  const handler: FormatHandler = Object.freeze({
    name: 'pattern',
    convention: `pattern '${pattern}'`,
    components,
    detect: (listing: PlateListing) => detectByParsing(handler, listing),
    parse,
    parseInto,
  });
  return handler;
}
