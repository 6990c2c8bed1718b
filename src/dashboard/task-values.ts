/**
 * The numbers a plate-map cell can be coloured by, per finished task: task time, images read, peak
 * RSS and each measurement (summed over the task's images when it is a count, else averaged: the
 * report's rule, `aggregationOf`). The page combines the tasks of one well the same way.
 *
 * @module
 */
import type { TaskResult } from '../execution/result.js';
import { aggregationOf } from '../report/plate-map.js';

export interface LiveMetric {
  readonly key: string;
  readonly label: string;
  /** How the tasks of one cell combine. */
  readonly combine: 'sum' | 'mean' | 'max';
}

export const BASE_METRICS: readonly LiveMetric[] = [
  { key: 'seconds', label: 'task time (s)', combine: 'sum' },
  { key: 'images', label: 'images read', combine: 'sum' },
  { key: 'peakRssMiB', label: 'peak RSS (MiB)', combine: 'max' },
];

/** `m:<step>›<name>` for a measurement, so two steps measuring the same name stay apart. */
export function measurementKey(step: string, name: string): string {
  return `m:${step}\u203a${name}`;
}

export function taskValues(result: TaskResult): Record<string, number> {
  const values: Record<string, number> = { seconds: result.seconds, images: result.images };
  if (result.peakRssBytes !== undefined) values.peakRssMiB = result.peakRssBytes / (1024 * 1024);
  const acc = new Map<string, { sum: number; n: number; name: string }>();
  for (const row of result.measurements) {
    for (const [name, value] of Object.entries(row.values)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const key = measurementKey(row.step, name);
      const a = acc.get(key) ?? { sum: 0, n: 0, name };
      a.sum += value;
      a.n++;
      acc.set(key, a);
    }
  }
  for (const [key, a] of acc) values[key] = aggregationOf(a.name) === 'sum' ? a.sum : a.sum / a.n;
  return values;
}

/** The metric for a measurement key met for the first time. */
export function measurementMetric(key: string): LiveMetric {
  const [step = '', name = key] = key.slice(2).split('\u203a');
  const combine = aggregationOf(name);
  return { key, label: `${name} (${step}, ${combine} per well)`, combine };
}
