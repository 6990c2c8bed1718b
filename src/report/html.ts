/**
 * `report.html`: one self-contained page per run (or batch) — an overview, every problem with its
 * full error, and per plate a plate map coloured by status, task time or any measurement, plus
 * per-step timings. Built from the `results.json` document(s), so a report can be re-rendered
 * from an old run's results without re-running anything.
 *
 * All text from the data is escaped here (`escapeHtml`) or set with `textContent` by the inline
 * script; the numbers the script colours by travel in a JSON island escaped by `jsonForScript`.
 *
 * @module
 */
import { writeFileAtomic } from '../storage/atomic.js';
import { plateName, type RunDocument } from './document.js';
import { formatBytes, formatDuration, formatNumber, formatRate } from './format.js';
import { CSS, PALETTE, SCRIPT, STATUS_COLORS } from './html-assets.js';
import { escapeHtml as esc, jsonForScript } from './html-escape.js';
import { buildPlateMap, STATUS_SEVERITY, type MapCell, type PlateMapModel } from './plate-map.js';
import { peakRssNote, shownPeakRss } from './peak-rss.js';
import { collectProblems, debugFromEnv, errorChain, formatErrorLines, type SkippedPlateInfo } from './problems.js';

/** Several plates (a batch) with an optional title; a single `results.json` document also works. */
export interface ReportInput {
  readonly title?: string;
  readonly plates: readonly RunDocument[];
  /** Plates a lenient batch did not run; listed first among the problems. */
  readonly skippedPlates?: readonly SkippedPlateInfo[];
}

export interface RenderReportOptions {
  /** Include error stacks (collapsed). @defaultValue `PLATEFLOW_DEBUG` is set */
  readonly debug?: boolean;
  /** Time shown as "generated"; injectable so tests get stable output. @defaultValue now */
  readonly generatedAt?: Date;
}

/** Renders the whole report as one HTML string (no external resources). */
export function renderReport(input: ReportInput | RunDocument, options: RenderReportOptions = {}): string {
  const { title, plates, skippedPlates = [] } = isReportInput(input) ? input : { title: undefined, plates: [input], skippedPlates: [] };
  const debug = options.debug ?? debugFromEnv();
  const generated = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const named = plates.map((doc, i) => ({ doc, name: plateName(doc), id: `plate-${i}`, map: buildPlateMap(doc) }));
  const heading = title ?? (plates.length === 1 ? `plateflow report — ${named[0]!.name}` : `plateflow report — ${plates.length} plates`);
  const problems = collectProblems(named.map((p) => ({ name: p.name, results: Object.values(p.doc.tasks) })));
  const problemCount = problems.length + skippedPlates.length;
  const tasks = plates.reduce((n, d) => n + Object.keys(d.tasks).length, 0);

  const island = {
    palette: PALETTE,
    plates: named.map((p) => islandFor(p.id, p.map)),
  };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(heading)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(heading)}</h1>
<p>Generated ${esc(generated)} · ${plates.length} plate${plates.length === 1 ? '' : 's'} · ${tasks} task${tasks === 1 ? '' : 's'} · ${
    problemCount === 0 ? '<span class="ok-text">no problems</span>' : `<a href="#problems" class="bad-text">${problemCount} problem${problemCount === 1 ? '' : 's'}</a>`
  }</p>
</header>
${overview(named)}
${problemsSection(problems, skippedPlates, named.length > 1 || skippedPlates.length > 0, debug)}
${named.map((p) => plateSection(p)).join('\n')}
</main>
<script type="application/json" id="plateflow-data">${jsonForScript(island)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function isReportInput(input: ReportInput | RunDocument): input is ReportInput {
  return Array.isArray((input as ReportInput).plates);
}

interface NamedPlate {
  readonly doc: RunDocument;
  readonly name: string;
  readonly id: string;
  readonly map: PlateMapModel;
}

function overview(plates: readonly NamedPlate[]): string {
  const head = ['plate', 'format', 'executor', 'tasks', 'ok', 'resumed', 'failed', 'skipped / cancelled', 'images', 'time', 'images/s', 'peak RSS'];
  const numeric = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const rows = plates.map(({ doc, name, id }) => {
    const t = doc.totals;
    const cells = [
      `<a href="#${id}">${esc(name)}</a>`,
      esc(doc.plate.format),
      esc(doc.executor ?? '—'),
      t.tasks,
      t.ok,
      t.resumed ?? 0,
      t.failed > 0 ? `<span class="bad-text">${t.failed}</span>` : t.failed,
      t.cancelled,
      t.images,
      esc(formatDuration(t.seconds)),
      esc(formatRate(t.imagesPerSecond)),
      peakCell(doc),
    ];
    return `<tr>${cells.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`;
  });
  // One plate: what its peak RSS covers, in words; for a batch, each plate's cell has it as a tooltip.
  const note = plates.length === 1 ? peakRssNote(plates[0]!.doc.peakRss) : undefined;
  const notes = note ? `\n<p class="muted" data-role="peak-rss-note">${esc(note)}</p>` : '';
  return `<section class="card" id="overview">
<h2>Overview</h2>
<div class="table-wrap"><table>
<thead><tr>${head.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table></div>${notes}
</section>`;
}

function problemsSection(problems: ReturnType<typeof collectProblems>, skippedPlates: readonly SkippedPlateInfo[], showPlate: boolean, debug: boolean): string {
  if (problems.length === 0 && skippedPlates.length === 0) {
    return `<section class="card" id="problems"><h2>Problems</h2><p class="ok-text">Every task ended ok.</p></section>`;
  }
  const skippedRows = skippedPlates.map(
    (s) => `<tr data-plate-skipped="${esc(s.plate)}"><td class="key">${esc(s.plate)}</td><td class="key muted">—</td><td>${badge('plate skipped')}</td><td><pre class="error">${esc(s.reason)}</pre></td></tr>`,
  );
  const rows = problems.map((p) => {
    const lines = formatErrorLines(p.error, false);
    const text = lines.map((l) => (l.startsWith('caused by:') ? `<span class="cause">${esc(l)}</span>` : esc(l))).join('\n');
    const stacks = debug && p.error ? errorChain(p.error).filter((e) => e.stack).map((e) => e.stack!).join('\n\n') : '';
    return `<tr data-task="${esc(p.taskId)}" data-status="${esc(p.status)}">${showPlate ? `<td class="key">${esc(p.plate)}</td>` : ''}<td class="key"><strong>${esc(p.taskId)}</strong></td><td>${badge(p.status)}</td><td><pre class="error">${text}</pre>${
      stacks ? `<details class="stack"><summary>stack</summary><pre class="error">${esc(stacks)}</pre></details>` : ''
    }</td></tr>`;
  });
  return `<section class="card" id="problems">
<h2>Problems (${problems.length + skippedPlates.length})</h2>
<div class="table-wrap"><table>
<thead><tr>${showPlate ? '<th>plate</th>' : ''}<th>task</th><th>status</th><th>error</th></tr></thead>
<tbody>
${[...skippedRows, ...rows].join('\n')}
</tbody>
</table></div>
</section>`;
}

function badge(status: string): string {
  const color = (STATUS_COLORS as Record<string, string>)[status] ?? '#616e7c';
  return `<span class="badge" style="background:${esc(color)}">${esc(status)}</span>`;
}

function plateSection({ doc, name, id, map }: NamedPlate): string {
  const where = `${doc.plate.format} · ${doc.plate.root}`;
  const axis = typeof doc.axis === 'string' ? doc.axis : doc.axis.join(' × ');
  const options = map.metrics.map((m) => `<option value="${esc(m.key)}">${esc(m.label)}</option>`).join('');
  const caption =
    map.layout === 'wells'
      ? `${map.rows} × ${map.columns} wells; one task per ${esc(axis)}${axis === 'well' ? '' : ', shown per well (worst status, values aggregated)'}`
      : `one cell per task (axis: ${esc(axis)}), in task order`;
  return `<section class="card plate" id="${id}">
<h2>${esc(name)}<small>${esc(where)}</small></h2>
<div class="controls">
<label>Colour by <select data-role="metric" aria-label="metric">${options}</select></label>
<span class="muted">${caption}</span>
</div>
<div class="map-area">
<div class="map-wrap">${mapGrid(map)}</div>
<div class="map-side">
<div class="legend" data-role="legend">${staticLegend(map)}</div>
<div class="info" data-role="info">Hover over a ${map.layout === 'wells' ? 'well' : 'task'} to see its numbers.</div>
</div>
</div>
<h3>Per-step timings</h3>
${stepTimings(doc)}
</section>`;
}

function mapGrid(map: PlateMapModel): string {
  const out: string[] = [];
  if (map.layout === 'wells') {
    out.push('<div class="lbl"></div>', ...map.columnLabels.map((c) => `<div class="lbl">${esc(c)}</div>`));
  }
  map.cells.forEach((cell, i) => {
    if (map.layout === 'wells' && cell.column === 1) out.push(`<div class="lbl">${esc(map.rowLabels[cell.row] ?? '')}</div>`);
    const attr = map.layout === 'wells' ? `data-well="${esc(cell.id)}"` : `data-task="${esc(cell.id)}"`;
    const focus = cell.status === 'absent' ? '' : ' tabindex="0"';
    out.push(`<div class="cell s-${cell.status}" data-i="${i}" ${attr} data-status="${cell.status}"${focus} title="${esc(cellTitle(cell, map))}"></div>`);
  });
  // Cells shrink for 384- and 1536-well plates so a whole plate fits without scrolling.
  const size = map.layout === 'tasks' ? ' tasks' : map.columns > 24 ? ' c48' : map.columns > 12 ? ' c24' : '';
  return `<div class="map${size}" style="--cols: ${map.columns}">${out.join('')}</div>`;
}

function cellTitle(cell: MapCell, map: PlateMapModel): string {
  if (cell.status === 'absent') return `${cell.id} — no images for this well`;
  if (cell.status === 'not-run') return `${cell.id} — not run (no task for this well in this run)`;
  const lines = [`${cell.id} — ${cell.status}`];
  if (map.layout === 'wells') lines.push(`tasks: ${cell.tasks.join(', ')}`);
  for (const m of map.metrics) {
    const v = cell.values[m.key];
    if (m.kind === 'number' && v !== undefined) lines.push(`${m.label}: ${formatNumber(v)}`);
  }
  return lines.join('\n');
}

/** The status legend, so the page reads right even before (or without) the script. */
function staticLegend(map: PlateMapModel): string {
  return statusCounts(map)
    .map((s) => `<span><span class="sw s-${s.status}"></span>${esc(`${s.status} (${s.count})`)}</span>`)
    .join('');
}

function statusCounts(map: PlateMapModel): { status: string; count: number }[] {
  return STATUS_SEVERITY.filter((s) => s !== 'absent')
    .map((status) => ({ status, count: map.cells.filter((c) => c.status === status).length }))
    .filter((s) => s.count > 0);
}

function islandFor(id: string, map: PlateMapModel) {
  const values: Record<string, (number | null)[]> = {};
  for (const m of map.metrics) if (m.kind === 'number') values[m.key] = map.cells.map((c) => (c.values[m.key] !== undefined ? c.values[m.key]! : null));
  return { id, metrics: map.metrics, values, statusOf: map.cells.map((c) => c.status), statuses: statusCounts(map) };
}

function stepTimings(doc: RunDocument): string {
  const tasks = Object.values(doc.tasks);
  const byName = new Map<string, { tasks: number; total: number; max: number; rss: number | undefined }>();
  for (const s of doc.steps ?? []) byName.set(s.name, { tasks: 0, total: 0, max: 0, rss: undefined });
  let recorded = false;
  for (const t of tasks) {
    for (const s of t.steps ?? []) {
      recorded = true;
      const a = byName.get(s.name) ?? { tasks: 0, total: 0, max: 0, rss: undefined };
      a.tasks++;
      a.total += s.seconds;
      a.max = Math.max(a.max, s.seconds);
      if (s.peakRssBytes !== undefined) a.rss = Math.max(a.rss ?? 0, s.peakRssBytes);
      byName.set(s.name, a);
    }
  }
  if (!recorded) return '<p class="muted">This run did not record per-step timings.</p>';
  const withRss = [...byName.values()].some((a) => a.rss !== undefined);
  const longest = Math.max(...[...byName.values()].map((a) => a.total), 1e-9);
  const rows = [...byName].map(([name, a]) => {
    const cells = [
      a.tasks,
      formatDuration(a.total),
      a.tasks > 0 ? formatDuration(a.total / a.tasks) : '—',
      a.tasks > 0 ? formatDuration(a.max) : '—',
      ...(withRss ? [formatBytes(a.rss)] : []),
    ];
    const bar = `<div class="bar" style="width:${((100 * a.total) / longest).toFixed(1)}%"></div>`;
    return `<tr><td>${esc(name)}</td>${cells.map((c) => `<td class="num">${esc(c)}</td>`).join('')}<td class="bar-cell">${bar}</td></tr>`;
  });
  const head = ['tasks', 'total', 'mean / task', 'max', ...(withRss ? ['peak RSS'] : [])];
  return `<div class="table-wrap"><table class="steps">
<thead><tr><th>step</th>${head.map((h) => `<th class="num">${esc(h)}</th>`).join('')}<th>share of time</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table></div>`;
}

/** The run's peak RSS, with what it covers as a tooltip. */
function peakCell(doc: RunDocument): string {
  const text = esc(formatBytes(shownPeakRss(doc.peakRss, Object.values(doc.tasks))));
  const note = peakRssNote(doc.peakRss);
  return `<span data-role="peak-rss"${note ? ` title="${esc(note)}"` : ''}>${text}</span>`;
}

/** Renders and writes `report.html` atomically (a reader never sees half a page). */
export async function writeReport(file: string, input: ReportInput | RunDocument, options: RenderReportOptions = {}): Promise<void> {
  await writeFileAtomic(file, renderReport(input, options));
}
