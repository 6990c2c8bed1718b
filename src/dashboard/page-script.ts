/**
 * The dashboard's script, served as /app.js (the CSP forbids inline scripts). Plain browser
 * JavaScript, no build step and no library: the map is drawn on a canvas (a DOM node per well
 * would make a 1536-well plate, or 10,000 tasks, slow to recolour at four updates a second), and
 * every string from the run reaches the page through `textContent` or an attribute, never HTML.
 *
 * @module
 */
import { PALETTE, STATUS_COLORS } from '../report/html-assets.js';

/** Live statuses the report does not have: waiting (planned) and running. */
const COLORS = { ...STATUS_COLORS, waiting: '#e9edf1', running: '#f7c948' };

const CLIENT = String.raw`
'use strict';
// Data from the run is only ever put into the page as text (textContent, value, attributes via
// setAttribute) or drawn on a canvas: never parsed as HTML.
const LIVE_ORDER = ['killed', 'timeout', 'error', 'cancelled', 'skipped', 'running', 'waiting', 'ok', 'resumed'];
const LABEL = { error: 'failed' };
let S = null;
let requestToken = '';
let metric = 'status';
let selected = null;
let stretch = { low: 0.5, high: 99.5 };
let drawQueued = false;
let updates = 0;

const $ = (id) => document.getElementById(id);
function el(tag, props, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'text') e.textContent = v;
    else if (k === 'cls') e.className = v;
    else if (k === 'bg') e.style.background = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, v);
  }
  for (const c of children || []) if (c) e.append(c);
  return e;
}
function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return '—';
  if (s < 1) return (s * 1000).toFixed(0) + ' ms';
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm' + String(Math.round(s % 60)).padStart(2, '0') + 's';
  return Math.floor(m / 60) + 'h' + String(m % 60).padStart(2, '0') + 'm';
}
function fmtNumber(v) {
  if (v === undefined || v === null) return '—';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
function fmtMiB(bytes) { return bytes === undefined ? '—' : (bytes / 1048576).toFixed(0) + ' MiB'; }

// ---- state ----
function indexPlate(p) {
  p.byId = new Map();
  p.cellTasks = p.cells.map(() => []);
  for (const t of p.tasks) {
    p.byId.set(t.id, t);
    if (t.c >= 0) p.cellTasks[t.c].push(t);
  }
}
function applySnapshot(snap) {
  S = snap;
  S.plates.forEach(indexPlate);
  buildPlates();
  buildMetricSelect();
  $('problems').replaceChildren();
  S.problems.forEach(addProblem);
  $('logs').textContent = S.logs.join('\n');
  render();
  if (selected) loadTask(selected.p, selected.id);
}
function applyUpdate(u) {
  if (!S) return;
  S.run = u.run;
  if (u.metrics) { S.metrics = u.metrics; buildMetricSelect(); }
  for (const t of u.tasks) {
    const p = S.plates[t.p];
    if (!p) continue;
    const old = p.byId.get(t.id);
    if (old) Object.assign(old, t);
    else { p.tasks.push(t); p.byId.set(t.id, t); if (t.c >= 0) p.cellTasks[t.c].push(t); }
    if (selected && selected.p === t.p && selected.id === t.id) loadTask(t.p, t.id);
  }
  u.plateTotals.forEach((tot, i) => { if (S.plates[i]) S.plates[i].totals = tot; });
  S.totals = u.totals;
  for (const s of u.samples) if (!S.samples.length || s.t > S.samples[S.samples.length - 1].t) S.samples.push(s);
  S.workers = mergeUsage(S.workers, u.workers);
  for (const pr of u.problems) if (pr.n >= S.problems.length) { S.problems.push(pr); addProblem(pr); }
  if (u.logs.length) { S.logs.push(...u.logs); $('logs').textContent = S.logs.slice(-200).join('\n'); }
  render();
}

// ---- map ----
function cellStatus(tasks) {
  let best = -1;
  for (const t of tasks) { const i = LIVE_ORDER.indexOf(t.s); if (best < 0 || i < best) best = i; }
  return best < 0 ? null : LIVE_ORDER[best];
}
function cellValue(tasks, m) {
  const vals = tasks.map((t) => t.v && t.v[m.key]).filter((v) => typeof v === 'number');
  if (!vals.length) return undefined;
  if (m.combine === 'max') return Math.max(...vals);
  const sum = vals.reduce((a, b) => a + b, 0);
  return m.combine === 'sum' ? sum : sum / vals.length;
}
function currentMetric() { return S.metrics.find((m) => m.key === metric); }
function metricRange(m) {
  let lo = Infinity, hi = -Infinity;
  for (const p of S.plates) for (const tasks of p.cellTasks) { const v = cellValue(tasks, m); if (v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
  return { lo, hi };
}
function paletteColor(x) {
  const i = Math.max(0, Math.min(PALETTE.length - 1, Math.round(x * (PALETTE.length - 1))));
  return PALETTE[i];
}
function buildPlates() {
  const root = $('plates');
  root.replaceChildren();
  for (const p of S.plates) {
    const canvas = el('canvas', { cls: 'map', 'data-plate': String(p.index), role: 'img', 'aria-label': 'plate map of ' + p.name });
    canvas.addEventListener('mousemove', (e) => hover(p, canvas, e));
    canvas.addEventListener('click', (e) => clickCell(p, canvas, e));
    const info = el('small', { text: p.format + ' · ' + p.root });
    const count = el('small', { 'data-role': 'plate-count' });
    const cellList = el('div', { cls: 'cells', 'data-role': 'cell-tasks' });
    p.dom = { canvas, count, cellList };
    root.append(el('div', { cls: 'plate' }, [el('h3', {}, [document.createTextNode(p.name), info, count]), canvas, cellList]));
  }
}
function buildMetricSelect() {
  const sel = $('metric');
  const keep = metric;
  sel.replaceChildren(el('option', { value: 'status', text: 'status' }), ...S.metrics.map((m) => el('option', { value: m.key, text: m.label })));
  metric = [...sel.options].some((o) => o.value === keep) ? keep : 'status';
  sel.value = metric;
}
function geometry(p) {
  const label = p.layout === 'wells' ? 22 : 0;
  const avail = Math.max(240, p.dom.canvas.parentElement.clientWidth - 4);
  const size = Math.max(4, Math.min(34, Math.floor((avail - label) / p.columns)));
  return { label, size };
}
function drawPlate(p, m, range) {
  const { label, size } = geometry(p);
  const c = p.dom.canvas;
  const dpr = window.devicePixelRatio || 1;
  const w = label + p.columns * size, h = label + p.rows * size;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    c.style.width = w + 'px'; c.style.height = h + 'px';
  }
  c.dataset.size = String(size); c.dataset.offset = String(label); c.dataset.columns = String(p.columns);
  const ctx = c.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#616e7c';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
  if (size >= 10) {
    p.columnLabels.forEach((t, i) => ctx.fillText(t, label + i * size + size / 2, label / 2));
    p.rowLabels.forEach((t, i) => ctx.fillText(t, label / 2, label + i * size + size / 2));
  }
  const gap = size >= 8 ? 1 : 0;
  for (let i = 0; i < p.cells.length; i++) {
    const x = label + (i % p.columns) * size, y = label + Math.floor(i / p.columns) * size;
    const tasks = p.cellTasks[i];
    let color;
    if (!tasks.length) color = p.cells[i] ? '#ffffff' : '#eef1f4';
    else if (!m) color = STATUS_COLORS[cellStatus(tasks)];
    else { const v = cellValue(tasks, m); color = v === undefined ? '#e4e7eb' : paletteColor(range.hi > range.lo ? (v - range.lo) / (range.hi - range.lo) : 0.5); }
    ctx.fillStyle = color;
    ctx.fillRect(x + gap, y + gap, size - 2 * gap, size - 2 * gap);
    if (!tasks.length && p.cells[i]) { ctx.strokeStyle = '#c3ccd5'; ctx.strokeRect(x + gap + 0.5, y + gap + 0.5, size - 2 * gap - 1, size - 2 * gap - 1); }
    if (selected && selected.p === p.index && tasks.some((t) => t.id === selected.id)) { ctx.strokeStyle = '#1f2933'; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, size - 2, size - 2); ctx.lineWidth = 1; }
  }
  p.dom.count.textContent = ' ' + p.totals.done + '/' + p.totals.tasks + ' done';
}
function cellAt(p, canvas, e) {
  const { label, size } = geometry(p);
  const r = canvas.getBoundingClientRect();
  const col = Math.floor((e.clientX - r.left - label) / size), row = Math.floor((e.clientY - r.top - label) / size);
  if (col < 0 || row < 0 || col >= p.columns || row >= p.rows) return -1;
  const i = row * p.columns + col;
  return i < p.cells.length ? i : -1;
}
function hover(p, canvas, e) {
  const i = cellAt(p, canvas, e);
  if (i < 0) return;
  const tasks = p.cellTasks[i];
  const m = currentMetric();
  const parts = [(p.cells[i] || '(no images)') + ' — ' + (tasks.length ? (LABEL[cellStatus(tasks)] || cellStatus(tasks)) : 'no task')];
  if (tasks.length > 1) parts.push(tasks.length + ' tasks');
  if (m && tasks.length) parts.push(m.label + ': ' + fmtNumber(cellValue(tasks, m)));
  $('hover').textContent = parts.join(' · ');
}
function clickCell(p, canvas, e) {
  const i = cellAt(p, canvas, e);
  if (i < 0 || !p.cellTasks[i].length) return;
  const tasks = p.cellTasks[i];
  p.dom.cellList.replaceChildren(...(tasks.length > 1 ? tasks.map((t) => el('button', { type: 'button', text: t.id, on: { click: () => select(p.index, t.id) } })) : []));
  select(p.index, tasks[0].id);
}
function select(plate, id) {
  selected = { p: plate, id };
  loadTask(plate, id);
  queueDraw();
}
function legend() {
  const box = $('legend');
  const m = currentMetric();
  if (!m) {
    const counts = {};
    for (const p of S.plates) for (const t of p.tasks) counts[t.s] = (counts[t.s] || 0) + 1;
    box.replaceChildren(...LIVE_ORDER.filter((s) => counts[s]).map((s) => el('span', { 'data-status': s }, [el('i', { bg: STATUS_COLORS[s] }), document.createTextNode((LABEL[s] || s) + ' (' + counts[s] + ')')])));
  } else {
    const r = metricRange(m);
    box.replaceChildren(el('span', {}, [el('i', { bg: PALETTE[0] }), document.createTextNode(isFinite(r.lo) ? fmtNumber(r.lo) : '—')]), el('span', {}, [el('i', { bg: PALETTE[PALETTE.length - 1] }), document.createTextNode(isFinite(r.hi) ? fmtNumber(r.hi) : '—')]), el('span', {}, [el('i', { bg: '#e4e7eb' }), document.createTextNode('no value yet')]));
  }
}

// ---- totals, charts, workers, problems ----
function renderTotals() {
  const t = S.totals;
  const items = [
    ['done', t.done + ' / ' + t.tasks], ['ok', t.ok], ['resumed', t.resumed], ['failed', t.failed], ['not run', t.notRun], ['running', t.running],
    ['images', t.images], ['images/s', fmtNumber(t.imagesPerSecond)], ['elapsed', fmtDuration(t.elapsed)], ['ETA', S.run.state === 'running' ? fmtDuration(t.eta) : '—'],
  ];
  $('totals').replaceChildren(...items.map(([k, v]) => el('div', { 'data-total': k }, [el('b', { text: String(v) }), el('span', { text: k })])));
  $('title').textContent = S.run.title;
  $('run-state').textContent = S.run.state === 'running' ? 'running' : S.run.state === 'stopping' ? 'stopping: running tasks are being cancelled' : 'finished';
  document.body.dataset.runState = S.run.state;
  $('stop').hidden = !S.run.canStop;
  if (!S.run.canStop) $('stop-confirm').hidden = true;
}
function lineChart(canvas, series) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = '#dde3ea'; ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  if (xs.length < 2) return;
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  ctx.font = '11px system-ui, sans-serif';
  series.forEach((s, k) => {
    const ys = s.points.map((p) => p[1]);
    const top = Math.max(1e-9, ...ys);
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.beginPath();
    s.points.forEach(([x, y], i) => { const px = 4 + ((x - x0) / Math.max(1e-9, x1 - x0)) * (w - 8), py = h - 4 - (y / top) * (h - 20); if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
    ctx.stroke();
    ctx.fillStyle = s.color; ctx.fillText('max ' + fmtNumber(top) + ' ' + s.unit, 40 + k * 140, 10);
  });
}
function renderCharts() {
  const rate = [];
  for (let i = 1; i < S.samples.length; i++) {
    const a = S.samples[i - 1], b = S.samples[i];
    if (b.t > a.t) rate.push([b.t, (b.images - a.images) / (b.t - a.t)]);
  }
  lineChart($('throughput'), [{ points: rate, color: '#3e4989', unit: 'img/s' }]);
  const live = S.samples.filter((s) => s.rssMiB !== undefined);
  $('process').hidden = live.length === 0;
  lineChart($('process'), [{ points: live.map((s) => [s.t, s.rssMiB]), color: '#31688e', unit: 'MiB' }, { points: live.map((s) => [s.t, s.cpuPercent]), color: '#ef8a17', unit: '% CPU' }]);
}
// An update carries each worker's newest usage reading only; the history the page has grows by it.
function mergeUsage(before, workers) {
  const old = new Map(before.map((w) => [w.worker, w.usage || []]));
  return workers.map((w) => {
    const kept = old.get(w.worker) || [];
    const fresh = (w.usage || []).filter((p) => !kept.length || p[0] > kept[kept.length - 1][0]);
    return kept.length || fresh.length ? Object.assign({}, w, { usage: kept.concat(fresh).slice(-600) }) : w;
  });
}
function sparkline(usage) {
  const c = el('canvas', { cls: 'spark', width: '120', height: '22' });
  if (usage.length < 2) return c;
  const ctx = c.getContext('2d');
  const t0 = usage[0][0], t1 = usage[usage.length - 1][0];
  for (const [k, color, top] of [[1, '#31688e', Math.max(1, ...usage.map((p) => p[1]))], [2, '#ef8a17', Math.max(100, ...usage.map((p) => p[2]))]]) {
    ctx.strokeStyle = color; ctx.lineWidth = 1; ctx.beginPath();
    usage.forEach((p, i) => { const x = 1 + ((p[0] - t0) / Math.max(1e-9, t1 - t0)) * 118, y = 21 - (p[k] / top) * 20; if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.stroke();
  }
  return c;
}
function renderWorkers() {
  const now = S.run.now;
  $('workers').tBodies[0].replaceChildren(...S.workers.map((w) => {
    const last = w.usage && w.usage.length ? w.usage[w.usage.length - 1] : undefined;
    return el('tr', { 'data-worker': String(w.worker) }, [
      el('td', { text: (w.kind === 'slot' ? 'slot ' : 'pid ') + w.worker + (w.gone ? ' (exited)' : '') }),
      el('td', { text: w.task ? (S.plates.length > 1 ? w.plate + ' ' : '') + w.task : 'idle' }),
      el('td', { cls: 'num', text: w.since !== undefined ? fmtDuration(now - w.since) : '—' }),
      el('td', { cls: 'num', text: String(w.done) }),
      el('td', { cls: 'num', 'data-role': 'rss', text: last && !w.gone ? last[1].toFixed(0) + ' MiB' : '—' }),
      el('td', { cls: 'num', 'data-role': 'cpu', text: last && !w.gone ? last[2].toFixed(0) + ' %' : '—' }),
      el('td', {}, [w.usage ? sparkline(w.usage) : null]),
      el('td', { cls: 'num', text: w.lastPeakRssMiB !== undefined ? w.lastPeakRssMiB.toFixed(0) + ' MiB' : '—' }),
    ]);
  }));
}
function badge(status) { return el('span', { cls: 'badge', bg: (STATUS_COLORS[status] || '#616e7c'), text: LABEL[status] || status }); }
function addProblem(pr) {
  const li = el('li', { 'data-task': pr.task, on: { click: () => { const p = S.plates.find((q) => q.name === pr.plate); if (p) select(p.index, pr.task); } } }, [
    el('strong', { text: (S.plates.length > 1 ? pr.plate + ' ' : '') + pr.task }), document.createTextNode(' '), badge(pr.status),
    el('pre', { cls: 'error', text: pr.lines.join('\n') }),
  ]);
  $('problems').append(li);
  $('problem-count').textContent = '(' + S.problems.length + ')';
}

// ---- well panel ----
let panelRequest = 0;
async function loadTask(plate, id) {
  const n = ++panelRequest;
  const res = await fetch('/api/task?plate=' + plate + '&task=' + encodeURIComponent(id), { credentials: 'same-origin' });
  if (n !== panelRequest) return;
  if (!res.ok) { $('panel-body').textContent = 'cannot load ' + id + ': ' + res.status; return; }
  renderPanel(plate, await res.json());
}
function imageUrl(plate, ref, size) {
  const q = new URLSearchParams({ plate: String(plate), size, low: String(stretch.low), high: String(stretch.high) });
  if (ref.path !== undefined) q.set('path', ref.path); else { q.set('task', ref.task); q.set('input', String(ref.index)); }
  return '/api/image?' + q.toString();
}
function figures(plate, refs, kind) {
  return el('div', { cls: 'thumbs', 'data-role': kind }, refs.map((ref) => el('figure', {}, [
    el('a', { href: imageUrl(plate, ref, 'full'), target: '_blank', rel: 'noopener', title: 'full-size plane' }, [el('img', { src: imageUrl(plate, ref, '160'), alt: ref.label, 'data-kind': kind, loading: 'lazy' })]),
    el('figcaption', { text: ref.label }),
  ])));
}
function table(head, rows) {
  return el('table', {}, [el('thead', {}, [el('tr', {}, head.map((h, i) => el('th', { cls: i ? 'num' : '', text: h })))]), el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { cls: i ? 'num' : '', text: String(c) })))))]);
}
function renderPanel(plate, d) {
  $('panel-title').replaceChildren(document.createTextNode(d.id + ' '), badge(d.status));
  const body = [];
  const facts = [['plate', d.plate], ['axis', Object.entries(d.axis).map(([k, v]) => k + ' ' + v).join(', ')]];
  if (d.worker !== undefined) facts.push(['worker', d.worker]);
  if (d.seconds !== undefined) facts.push(['time', fmtDuration(d.seconds)], ['images read', d.images]);
  if (d.peakRssBytes !== undefined) facts.push(['peak RSS', fmtMiB(d.peakRssBytes)]);
  if (d.attempts !== undefined) facts.push(['attempts', d.attempts]);
  if (d.resumed !== undefined) facts.push(['resumed', d.resumed]);
  body.push(el('table', { 'data-role': 'facts' }, [el('tbody', {}, facts.map(([k, v]) => el('tr', {}, [el('th', { text: k }), el('td', { text: String(v) })])))]));
  if (d.error) body.push(el('h3', { text: 'Error' }), el('pre', { cls: 'error', 'data-role': 'error', text: d.error.join('\n') }));
  if (d.steps && d.steps.length) body.push(el('h3', { text: 'Steps' }), table(['step', 'time', 'peak RSS'], d.steps.map((s) => [s.name, fmtDuration(s.seconds), fmtMiB(s.peakRssBytes)])));
  if (d.measurements && d.measurements.length) {
    const rows = d.measurements.flatMap((m) => Object.entries(m.values).map(([k, v]) => [m.image + ' · ' + k, fmtNumber(v)]));
    body.push(el('h3', { text: 'Measurements' }), table(['image · measurement', 'value'], rows));
  }
  const lo = el('input', { type: 'number', min: '0', max: '100', step: '0.5', value: String(stretch.low), 'aria-label': 'low percentile' });
  const hi = el('input', { type: 'number', min: '0', max: '100', step: '0.5', value: String(stretch.high), 'aria-label': 'high percentile' });
  const apply = () => {
    const l = Number(lo.value), h = Number(hi.value);
    if (isFinite(l) && isFinite(h) && l >= 0 && h <= 100 && l < h) { stretch = { low: l, high: h }; loadTask(plate, d.id); }
  };
  lo.addEventListener('change', apply); hi.addEventListener('change', apply);
  const contrast = el('div', { cls: 'contrast' }, [document.createTextNode('Contrast: percentiles'), lo, document.createTextNode('to'), hi]);
  if (d.outputs.length || d.inputs.length) body.push(el('h3', { text: 'Images' }), contrast);
  if (d.outputs.length) body.push(el('h3', { text: 'Outputs' }), figures(plate, d.outputs, 'output'));
  if (d.moreOutputs) body.push(el('p', { cls: 'muted', text: d.moreOutputs + ' more output(s) not shown (only TIFF planes are rendered, at most 48)' }));
  if (d.inputs.length) body.push(el('h3', { text: 'Inputs' }), figures(plate, d.inputs.map((i) => ({ ...i, task: d.id })), 'input'));
  if (!d.outputs.length && d.status !== 'waiting' && d.status !== 'running') body.push(el('p', { cls: 'muted', text: 'No output images to show.' }));
  $('panel-body').className = '';
  $('panel-body').replaceChildren(...body);
}

// ---- drawing, stream, stop ----
function render() { queueDraw(); }
function queueDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    if (!S) return;
    const m = currentMetric();
    const range = m ? metricRange(m) : null;
    for (const p of S.plates) drawPlate(p, m, range);
    legend();
    renderTotals();
    renderCharts();
    renderWorkers();
    document.body.dataset.updates = String(++updates);
  });
}
function connect() {
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (e) => { $('connection').textContent = 'live'; applySnapshot(JSON.parse(e.data)); document.body.dataset.ready = '1'; });
  source.addEventListener('update', (e) => applyUpdate(JSON.parse(e.data)));
  source.addEventListener('error', () => { $('connection').textContent = S && S.run.state === 'finished' ? 'run over' : 'reconnecting…'; });
}
async function stop() {
  $('stop-confirm').hidden = true;
  const res = await fetch('/api/stop', { method: 'POST', credentials: 'same-origin', headers: { 'X-Plateflow-Request': requestToken } });
  $('run-state').textContent = res.ok ? 'stopping: running tasks are being cancelled' : 'stop refused: ' + res.status;
}
document.addEventListener('DOMContentLoaded', async () => {
  $('metric').addEventListener('change', (e) => { metric = e.target.value; queueDraw(); });
  $('stop').addEventListener('click', () => { $('stop-confirm').hidden = false; });
  $('stop-no').addEventListener('click', () => { $('stop-confirm').hidden = true; });
  $('stop-yes').addEventListener('click', stop);
  window.addEventListener('resize', queueDraw);
  const session = await fetch('/api/session', { credentials: 'same-origin' });
  if (session.ok) requestToken = (await session.json()).requestToken;
  connect();
});
`;

export const PAGE_SCRIPT = `const STATUS_COLORS = ${JSON.stringify(COLORS)};\nconst PALETTE = ${JSON.stringify(PALETTE)};\n${CLIENT}`;
