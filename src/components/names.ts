/**
 * Component names. The five standard components are what every format handler provides; a format
 * may add its own (e.g. `plane`, `row`, `column`, `field`) and a `ComponentConfig` may be told about
 * them through its `components` list.
 *
 * @module
 */

export const STANDARD_COMPONENTS = ['well', 'site', 'channel', 'z', 'timepoint'] as const;

export type StandardComponent = (typeof STANDARD_COMPONENTS)[number];

/** A component name: one of the standard five, or a name a format adds. */
export type ComponentName = StandardComponent | (string & {});

/** Value given to a standard component a format does not encode (e.g. `z` in a 2-D plate). */
export const DEFAULT_COMPONENT_VALUE = '1';

const COMPONENT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

export function isStandardComponent(name: string): name is StandardComponent {
  return (STANDARD_COMPONENTS as readonly string[]).includes(name);
}

/**
 * True when `name` can be a component name: a letter followed by letters or digits. The same rule
 * plateflow's output file names use (`well-A01_site-1.tif`), so every component survives a round trip.
 */
export function isValidComponentName(name: string): boolean {
  return COMPONENT_NAME.test(name);
}
