import { PlateflowError, StepFailedError, serializeError } from '../src/errors.js';
import type { MeasurementRow, TaskResult } from '../src/execution/result.js';
import type { RunDocument } from '../src/report/document.js';
import { totalsOf } from '../src/report/results.js';

/** Data from the outside world that must never become markup. */
export const HOSTILE = `<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script> & "quotes" 'too'`;

const ROWS = 'ABCDEFGH';

/** Deterministic object count per (well, site), with a left-to-right gradient so the map shows one. */
function countFor(row: number, column: number, site: number): number {
  return 20 + column * 6 + row * 2 + ((row * 7 + column * 3 + site) % 5);
}

export interface FixtureOptions {
  /** Sites per well; with `tuple` the axis is (well, site) and there is one task per site. */
  readonly sites?: number;
  readonly tuple?: boolean;
  /** Rows of the 96-well plate that have images (A.. ). */
  readonly rows?: number;
  readonly root?: string;
}

/**
 * A results document like `writeRunFiles` writes, for a 96-well plate of which `rows` rows were
 * imaged: one failing well (B07, an error whose message is hostile text), one timed-out well
 * (C03), one cancelled (C11), the rest ok with object counts and per-step timings.
 */
export function fixtureDocument(options: FixtureOptions = {}): RunDocument {
  const { sites = 2, tuple = false, rows = 3, root = '/data/plates/screen-42' } = options;
  const wells: string[] = [];
  for (let r = 0; r < rows; r++) for (let c = 1; c <= 12; c++) wells.push(`${ROWS[r]}${String(c).padStart(2, '0')}`);
  const tasks = new Map<string, TaskResult>();
  for (const well of wells) {
    const r = ROWS.indexOf(well[0]!);
    const c = Number(well.slice(1));
    for (const site of tuple ? Array.from({ length: sites }, (_, i) => i + 1) : [0]) {
      const taskId = tuple ? `${well}/${site}` : well;
      const siteList = tuple ? [site] : Array.from({ length: sites }, (_, i) => i + 1);
      const measurements = siteList.flatMap((s): MeasurementRow[] => [
        { task: taskId, step: 'count_nuclei', fn: 'count_objects', image: `well-${well}_site-${s}_channel-1`, components: { well, site: String(s), channel: '1' }, values: { object_count: countFor(r, c, s) } },
        { task: taskId, step: 'count_nuclei', fn: 'otsu_threshold', image: `well-${well}_site-${s}_channel-1`, components: { well, site: String(s), channel: '1' }, values: { otsu_threshold: 100 + r * 10 + s } },
      ]);
      const seconds = 0.4 + ((r * 12 + c) % 7) * 0.05;
      const axis: Record<string, string> = tuple ? { well, site: String(site) } : { well };
      const base = { taskId, axis, seconds, images: 6 * siteList.length, outputs: [], peakRssBytes: (180 + c) * 1024 * 1024 };
      const steps = [
        { name: 'max_project_z', seconds: seconds * 0.3 },
        { name: 'count_nuclei', seconds: seconds * 0.7 },
      ];
      let result: TaskResult;
      if (well === 'B07') {
        const cause = new PlateflowError('E_TIFF_INVALID', `truncated strip in ${HOSTILE}`, { file: `/data/B07_s1_w1.tif` });
        result = { ...base, status: 'error', error: serializeError(new StepFailedError(taskId, 'count_nuclei', 'otsu_threshold', cause)), measurements: [], steps: steps.slice(0, 1) };
      } else if (well === 'C03') {
        result = { ...base, status: 'timeout', error: serializeError(new PlateflowError('E_TASK_TIMEOUT', 'task exceeded --task-timeout 30s; worker terminated')), measurements: [], steps: [] };
      } else if (well === 'C11') {
        result = { ...base, status: 'cancelled', seconds: 0, error: serializeError(new PlateflowError('E_ABORTED', 'aborted: interrupted (SIGINT)')), measurements: [] };
      } else {
        result = { ...base, status: 'ok', measurements, steps };
      }
      tasks.set(taskId, result);
    }
  }
  return {
    plateflow: 1,
    plate: { root, format: 'ImageXpress', components: { well: wells, site: Array.from({ length: sites }, (_, i) => String(i + 1)), channel: ['1', '2'] }, grid: { rows: 8, columns: 12 } },
    axis: tuple ? ['well', 'site'] : ['well'],
    executor: 'threads(2)',
    finishedAt: '2026-11-23T12:00:00.000Z',
    totals: totalsOf(tasks, 12.5),
    steps: [
      { name: 'max_project_z', id: '1_max_project_z' },
      { name: 'count_nuclei', id: '2_count_nuclei' },
    ],
    tasks: Object.fromEntries(tasks),
  };
}
