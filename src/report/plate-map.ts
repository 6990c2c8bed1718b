/**
 * The plate map's data: one cell per well of the plate grid, each with a status and numbers (task
 * time, images, any measurement) aggregated over the tasks and images of that well. Pure, so the
 * HTML renderer and its tests share it.
 *
 * The grid is the plate's own when discovery knew it, else the smallest standard plate holding all
 * well ids. When the parallel axis has no well, or the wells are not ids like `B03` (a pattern
 * plate with "ctrl1"), the map falls back to one cell per task in reading order.
 *
 * @module
 */
import { wellId } from '../components/wells.js';
import type { TaskResult, TaskStatus } from '../execution/result.js';
import { axisOf, type RunDocument } from './document.js';
import { mapLayout, type MapLayout } from './map-layout.js';

/**
 * `resumed`: every task of the cell was finished by an earlier run and reported from its
 * checkpoints; `absent`: a position of the grid with no images; `not-run`: a well of the plate no
 * task covered.
 */
export type CellStatus = TaskStatus | 'resumed' | 'not-run' | 'absent';

export interface MapCell {
  /** Well id as the plate spells it (or the task id in the task layout). */
  readonly id: string;
  readonly row: number;
  readonly column: number;
  readonly status: CellStatus;
  readonly tasks: readonly string[];
  /** Metric key → value; a metric missing here has no value for this cell. */
  readonly values: Readonly<Record<string, number>>;
}

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly kind: 'status' | 'number';
}

export interface PlateMapModel extends Pick<MapLayout, 'layout' | 'rows' | 'columns' | 'rowLabels' | 'columnLabels'> {
  /** Row-major, `rows × columns` in the well layout; one per task in the task layout. */
  readonly cells: readonly MapCell[];
  readonly metrics: readonly Metric[];
}

/** Worst first: a well with one killed task and one ok task is shown as killed. */
export const STATUS_SEVERITY: readonly CellStatus[] = ['killed', 'timeout', 'error', 'cancelled', 'skipped', 'ok', 'resumed', 'not-run', 'absent'];

/** A task's status on the map: a task reused whole from an earlier run shows apart from computed ones. */
export function cellStatusOf(task: TaskResult): CellStatus {
  return task.status === 'ok' && task.resumed === 'task' ? 'resumed' : task.status;
}

export function worstStatus(a: CellStatus, b: CellStatus): CellStatus {
  return STATUS_SEVERITY.indexOf(a) <= STATUS_SEVERITY.indexOf(b) ? a : b;
}

/**
 * Counts add up across a well's images (objects in the well); intensities and the like are
 * averaged, since a sum of mean intensities means nothing.
 */
export function aggregationOf(measurement: string): 'sum' | 'mean' {
  return /(^|_)(count|n|area|total|sum|objects?)($|_)/i.test(measurement) ? 'sum' : 'mean';
}

export function buildPlateMap(doc: RunDocument): PlateMapModel {
  const tasks = Object.values(doc.tasks);
  const metrics = metricsOf(tasks);
  const layout = mapLayout({ axis: axisOf(doc), wells: doc.plate.components.well ?? [], grid: doc.plate.grid ?? null, tasks: tasks.map((t) => ({ id: t.taskId, axis: t.axis })) });
  const at = (i: number) => ({ row: Math.floor(i / layout.columns), column: (i % layout.columns) + 1 });
  const { rows, columns, rowLabels, columnLabels } = layout;
  if (layout.layout === 'tasks') {
    const cells = tasks.map((t, i): MapCell => ({ id: t.taskId, ...at(i), status: cellStatusOf(t), tasks: [t.taskId], values: metrics.valuesOf([t]) }));
    return { layout: 'tasks', rows, columns, rowLabels, columnLabels, cells, metrics: metrics.list };
  }
  const byCell = new Map<number, TaskResult[]>();
  for (const t of tasks) {
    const i = layout.cellOf.get(t.taskId);
    if (i !== undefined) byCell.set(i, [...(byCell.get(i) ?? []), t]);
  }
  const cells = layout.cells.map((name, i): MapCell => {
    const { row, column } = at(i);
    const members = byCell.get(i) ?? [];
    const status: CellStatus = members.length > 0 ? members.map(cellStatusOf).reduce(worstStatus) : name !== '' ? 'not-run' : 'absent';
    return { id: name || wellId(row, column), row, column, status, tasks: members.map((t) => t.taskId), values: metrics.valuesOf(members) };
  });
  return { layout: 'wells', rows, columns, rowLabels, columnLabels, cells, metrics: metrics.list };
}

interface MetricSet {
  readonly list: readonly Metric[];
  valuesOf(tasks: readonly TaskResult[]): Record<string, number>;
}

/** Measurement key: the name alone, or `step › name` when several steps report that name. */
function measurementKeys(tasks: readonly TaskResult[]): Map<string, string> {
  const stepsByName = new Map<string, Set<string>>();
  for (const t of tasks) for (const m of t.measurements) for (const name of Object.keys(m.values)) (stepsByName.get(name) ?? stepsByName.set(name, new Set()).get(name)!).add(m.step);
  const keys = new Map<string, string>();
  for (const [name, steps] of stepsByName) for (const step of steps) keys.set(`${step}\u0000${name}`, steps.size > 1 ? `${step} › ${name}` : name);
  return keys;
}

function metricsOf(tasks: readonly TaskResult[]): MetricSet {
  const keys = measurementKeys(tasks);
  const measured = [...new Set(keys.values())];
  const hasRss = tasks.some((t) => t.peakRssBytes !== undefined);
  const list: Metric[] = [
    { key: 'status', label: 'status', kind: 'status' },
    { key: 'seconds', label: 'task time (s)', kind: 'number' },
    { key: 'images', label: 'images read', kind: 'number' },
    ...(hasRss ? [{ key: 'peakRssMiB', label: 'peak RSS (MiB)', kind: 'number' as const }] : []),
    ...measured.map((name) => ({ key: `m:${name}`, label: `${name} (${aggregationOf(lastSegment(name))} per well)`, kind: 'number' as const })),
  ];
  return {
    list,
    valuesOf(members) {
      const values: Record<string, number> = {};
      if (members.length === 0) return values;
      values.seconds = members.reduce((s, t) => s + t.seconds, 0);
      values.images = members.reduce((s, t) => s + t.images, 0);
      const rss = members.map((t) => t.peakRssBytes).filter((v): v is number => v !== undefined);
      if (rss.length > 0) values.peakRssMiB = Math.max(...rss) / (1024 * 1024);
      const acc = new Map<string, { sum: number; n: number }>();
      for (const t of members) {
        for (const row of t.measurements) {
          for (const [name, value] of Object.entries(row.values)) {
            if (typeof value !== 'number' || !Number.isFinite(value)) continue;
            const key = keys.get(`${row.step}\u0000${name}`)!;
            const a = acc.get(key) ?? { sum: 0, n: 0 };
            a.sum += value;
            a.n++;
            acc.set(key, a);
          }
        }
      }
      for (const [key, a] of acc) values[`m:${key}`] = aggregationOf(lastSegment(key)) === 'sum' ? a.sum : a.sum / a.n;
      return values;
    },
  };
}

function lastSegment(key: string): string {
  return key.split(' › ').at(-1)!;
}
