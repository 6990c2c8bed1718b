import { describe, expect, it } from 'vitest';
import { createComponentConfig, validateStepComponents } from '../src/components/config.js';
import { STANDARD_COMPONENTS } from '../src/components/names.js';
import { parseTaskKey, taskKey } from '../src/components/task-key.js';
import { ConfigError } from '../src/errors.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('E_CONFIG_INVALID');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('createComponentConfig', () => {
  it('applies the defaults: variable [site], groupBy channel, the standard five', () => {
    const c = createComponentConfig({ axis: 'well' });
    expect(c).toEqual({ axis: ['well'], variable: ['site'], groupBy: 'channel', components: [...STANDARD_COMPONENTS] });
  });

  it('normalizes a tuple axis and keeps defaults clear of it', () => {
    const c = createComponentConfig({ axis: ['well', 'site'] });
    expect(c.axis).toEqual(['well', 'site']);
    expect(c.variable).toEqual([]);
    expect(c.groupBy).toBe('channel');
    expect(createComponentConfig({ axis: 'channel' }).groupBy).toBeNull();
    expect(createComponentConfig({ axis: 'well', variable: ['channel'] }).groupBy).toBeNull();
  });

  it('accepts the temporal configuration of the seed (timepoint axis)', () => {
    const c = createComponentConfig({ axis: 'timepoint', variable: ['well', 'site'], groupBy: 'channel' });
    expect(c.axis).toEqual(['timepoint']);
    expect(c.variable).toEqual(['well', 'site']);
  });

  it('accepts groupBy null and format-specific components', () => {
    const c = createComponentConfig({ axis: 'plane', variable: ['site'], groupBy: null, components: [...STANDARD_COMPONENTS, 'plane'] });
    expect(c.axis).toEqual(['plane']);
    expect(c.groupBy).toBeNull();
  });

  it('is deeply frozen and survives structuredClone', () => {
    const c = createComponentConfig({ axis: ['well', 'site'], variable: ['z'] });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.axis)).toBe(true);
    expect(() => (c.variable as string[]).push('x')).toThrow(TypeError);
    expect(structuredClone(c)).toEqual(c);
  });

  it('rejects unknown components, listing the known ones', () => {
    expect(configError(() => createComponentConfig({ axis: 'wel' })).message).toBe(
      "unknown axis component 'wel' (did you mean 'well'?); known components: well, site, channel, z, timepoint",
    );
    expect(configError(() => createComponentConfig({ axis: 'well', variable: ['plane'] })).message).toBe(
      "unknown variable component 'plane'; known components: well, site, channel, z, timepoint",
    );
    expect(configError(() => createComponentConfig({ axis: 'well', groupBy: 'colour' })).message).toBe(
      "unknown group-by component 'colour'; known components: well, site, channel, z, timepoint",
    );
  });

  it('rejects an empty axis', () => {
    expect(configError(() => createComponentConfig({ axis: [] })).message).toBe(
      'axis is empty; name at least one component to split the work along (one of: well, site, channel, z, timepoint)',
    );
    expect(configError(() => createComponentConfig({ axis: '' })).message).toMatch(/^axis is empty/);
  });

  it('rejects duplicates in axis or variable', () => {
    expect(configError(() => createComponentConfig({ axis: ['well', 'well'] })).message).toBe(
      "axis lists component 'well' more than once; list each component once",
    );
    expect(configError(() => createComponentConfig({ axis: 'well', variable: ['site', 'z', 'site'] })).message).toBe(
      "variable components list 'site' more than once; list each component once",
    );
  });

  it('rejects a group-by component that is also variable', () => {
    expect(configError(() => createComponentConfig({ axis: 'well', variable: ['site', 'channel'], groupBy: 'channel' })).message).toBe(
      "group-by component 'channel' is also a variable component; remove it from variable or group by something else",
    );
  });

  it('rejects an axis overlapping variable or groupBy', () => {
    expect(configError(() => createComponentConfig({ axis: ['well', 'site'], variable: ['site'] })).message).toBe(
      "component 'site' is both in the axis and a variable component; each task holds a single 'site' value, so remove 'site' from variable or from the axis",
    );
    expect(configError(() => createComponentConfig({ axis: 'channel', groupBy: 'channel' })).message).toBe(
      "group-by component 'channel' is also in the axis; each task holds a single 'channel' value, so group by something else or set groupBy to null",
    );
  });

  it('rejects bad component lists and wrong types with ConfigError, not TypeError', () => {
    expect(configError(() => createComponentConfig({ axis: 'well', components: ['well', 'well'] })).message).toMatch(/'well' more than once/);
    expect(configError(() => createComponentConfig({ axis: 'well', components: ['my_comp'] })).message).toMatch(/not valid/);
    expect(configError(() => createComponentConfig({ axis: 3 as unknown as string })).message).toMatch(/axis must be a component name/);
    expect(configError(() => createComponentConfig(undefined as never)).message).toMatch(/must be an object/);
  });
});

describe('validateStepComponents', () => {
  const known = STANDARD_COMPONENTS;
  it('accepts a valid step override', () => {
    expect(() => validateStepComponents(['z'], null, ['well'], known)).not.toThrow();
    expect(() => validateStepComponents([], 'channel', ['well'], known)).not.toThrow();
  });

  it('prefixes messages with where the override is', () => {
    expect(configError(() => validateStepComponents(['channel'], 'channel', ['well'], known, 'step "blur"')).message).toBe(
      "step \"blur\": group-by component 'channel' is also a variable component; remove it from variable or group by something else",
    );
  });
});

describe('taskKey / parseTaskKey', () => {
  it('uses the bare value for a single-component axis', () => {
    expect(taskKey(['well'], { well: 'B03', site: '1' })).toBe('B03');
    expect(parseTaskKey(['well'], 'B03')).toEqual({ well: 'B03' });
  });

  it('names each component for a tuple axis', () => {
    expect(taskKey(['well', 'site'], { well: 'B03', site: '1' })).toBe('well=B03,site=1');
    expect(parseTaskKey(['well', 'site'], 'well=B03,site=1')).toEqual({ well: 'B03', site: '1' });
  });

  it('round-trips values containing separators', () => {
    const values = { well: 'a,b=c%d', timepoint: '7' };
    const key = taskKey(['well', 'timepoint'], values);
    expect(key).toBe('well=a%2Cb%3Dc%25d,timepoint=7');
    expect(parseTaskKey(['well', 'timepoint'], key)).toEqual(values);
  });

  it('rejects missing values and keys of another axis', () => {
    expect(configError(() => taskKey(['well', 'site'], { well: 'B03' })).message).toMatch(/needs a value for axis component 'site'/);
    expect(configError(() => parseTaskKey(['well', 'site'], 'site=1,well=B03')).message).toBe(
      "task key 'site=1,well=B03' does not fit axis (well, site); expected well=…,site=…",
    );
    expect(() => parseTaskKey(['well', 'site'], 'B03')).toThrow(ConfigError);
  });
});
