/**
 * The report's inline CSS and script. Both are inlined (no files beside report.html, no fonts, no
 * CDN) because the report is mailed, archived with the plate, and opened on air-gapped analysis
 * machines; the page's CSP forbids every network fetch to keep it that way.
 *
 * The script is plain ES5-style JavaScript in a string, not compiled TypeScript, so what ships is
 * exactly what is reviewed here. It only reads the JSON island and sets colours and `textContent`;
 * it never builds HTML from data.
 *
 * @module
 */
import type { CellStatus } from './plate-map.js';

export const STATUS_COLORS: Readonly<Record<CellStatus, string>> = {
  ok: '#3a9d5d',
  resumed: '#a8d5b5',
  error: '#d64545',
  timeout: '#ef8a17',
  killed: '#7b2cbf',
  cancelled: '#8d99a6',
  skipped: '#c3ccd5',
  'not-run': '#ffffff',
  absent: 'transparent',
};

/** Viridis, sampled at 10 stops: perceptually even and readable by colour-blind users. */
export const PALETTE: readonly string[] = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

export const CSS = `
:root { --ink: #1f2933; --muted: #616e7c; --line: #dde3ea; --card: #ffffff; --bg: #f3f5f8; --bad: ${STATUS_COLORS.error}; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 650; }
header p { margin: 0; color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin-top: 18px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
.card h2 { margin: 0 0 12px; font-size: 17px; font-weight: 650; }
.card h2 small { font-weight: 400; color: var(--muted); font-size: 13px; margin-left: 6px; word-break: break-all; }
.card h3 { margin: 20px 0 8px; font-size: 14px; font-weight: 650; }
.muted { color: var(--muted); }
.ok-text { color: ${STATUS_COLORS.ok}; font-weight: 600; }
.bad-text { color: var(--bad); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.key { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.table-wrap { overflow-x: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; white-space: nowrap; }
.error { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.error .cause { color: var(--muted); }
details.stack summary { cursor: pointer; color: var(--muted); font-size: 12px; }
.controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
.controls select { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.map-area { display: flex; gap: 12px 28px; align-items: flex-start; flex-wrap: wrap; }
.map-wrap { overflow-x: auto; padding: 2px 2px 4px; max-width: 100%; }
.map-side { flex: 1 1 260px; min-width: 240px; }
.map { display: grid; grid-template-columns: 22px repeat(var(--cols), 34px); gap: 4px; width: max-content; }
.map.c24 { grid-template-columns: 22px repeat(var(--cols), 24px); gap: 3px; }
.map.c48 { grid-template-columns: 22px repeat(var(--cols), 14px); gap: 2px; }
.map.tasks { grid-template-columns: repeat(var(--cols), 30px); }
.map .lbl { font-size: 11px; color: var(--muted); display: flex; align-items: center; justify-content: center; }
.cell { aspect-ratio: 1; border-radius: 50%; border: 1px solid rgba(0, 0, 0, .12); cursor: default; }
.map.tasks .cell { border-radius: 4px; }
.cell:hover, .cell.active { outline: 2px solid var(--ink); outline-offset: 1px; }
${Object.entries(STATUS_COLORS)
  .map(([status, color]) => `.s-${status} { background-color: ${color}; }`)
  .join('\n')}
.s-not-run { border: 1px dashed #9aa5b1; }
.s-absent { border: 1px dashed #e1e6ec; }
.cell.flag { box-shadow: 0 0 0 2px #fff, 0 0 0 4px var(--bad); }
.legend .flag-key { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 7px; vertical-align: -1px; box-shadow: 0 0 0 2px #fff, 0 0 0 4px var(--bad); }
.cell.no-value { background-color: #eef1f4; background-image: repeating-linear-gradient(45deg, transparent 0 3px, rgba(0,0,0,.07) 3px 5px); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; font-size: 12px; color: var(--muted); min-height: 20px; }
.legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 50%; vertical-align: -2px; margin-right: 5px; border: 1px solid rgba(0, 0, 0, .15); }
.legend .ramp { display: inline-block; width: 180px; height: 12px; border-radius: 3px; vertical-align: -2px; margin: 0 6px; }
.info { margin-top: 12px; min-height: 9em; padding: 8px 10px; border-radius: 6px; background: #f6f8fa; font-size: 12.5px; white-space: pre-line; font-variant-numeric: tabular-nums; }
.bar { height: 10px; border-radius: 3px; background: #4c78a8; min-width: 1px; }
td.bar-cell { width: 28%; }
`;

/** Reads `#plateflow-data` and colours each plate's cells by the selected metric. */
export const SCRIPT = `
(function () {
  'use strict';
  var island = document.getElementById('plateflow-data');
  if (!island) return;
  var data = JSON.parse(island.textContent);
  var palette = data.palette.map(function (hex) {
    return [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
  });
  function ramp(t) {
    var x = Math.max(0, Math.min(1, t)) * (palette.length - 1);
    var i = Math.min(Math.floor(x), palette.length - 2);
    var f = x - i;
    var c = palette[i].map(function (a, k) { return Math.round(a + (palette[i + 1][k] - a) * f); });
    return 'rgb(' + c.join(', ') + ')';
  }
  function fmt(v) {
    if (Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3)) return v.toExponential(2);
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  data.plates.forEach(function (plate) {
    var section = document.getElementById(plate.id);
    if (!section) return;
    var select = section.querySelector('select[data-role="metric"]');
    var legend = section.querySelector('[data-role="legend"]');
    var info = section.querySelector('[data-role="info"]');
    var cells = Array.prototype.slice.call(section.querySelectorAll('.cell[data-i]'));
    var problem = ['error', 'timeout', 'killed', 'cancelled', 'skipped'];
    function paint() {
      var key = select.value;
      var metric = plate.metrics.filter(function (m) { return m.key === key; })[0] || plate.metrics[0];
      legend.textContent = '';
      if (metric.kind === 'status') {
        cells.forEach(function (c) { c.style.backgroundColor = ''; c.classList.remove('no-value', 'flag'); });
        plate.statuses.forEach(function (s) {
          var item = el('span');
          var sw = el('span', 'sw s-' + s.status);
          item.appendChild(sw);
          item.appendChild(document.createTextNode(s.status + ' (' + s.count + ')'));
          legend.appendChild(item);
        });
        return;
      }
      var values = plate.values[metric.key] || [];
      var known = values.filter(function (v) { return v !== null; });
      var min = Math.min.apply(null, known), max = Math.max.apply(null, known);
      cells.forEach(function (c) {
        var i = Number(c.getAttribute('data-i'));
        if (plate.statusOf[i] === 'absent') return;
        var v = values[i];
        var has = v !== null && v !== undefined;
        c.classList.toggle('no-value', !has);
        // A colour scale hides which wells failed, so ring them.
        c.classList.toggle('flag', problem.indexOf(plate.statusOf[i]) >= 0);
        c.style.backgroundColor = has ? ramp(max > min ? (v - min) / (max - min) : 0.5) : '';
      });
      if (known.length === 0) {
        legend.appendChild(el('span', '', 'no values for ' + metric.label));
        return;
      }
      if (max > min) {
        var scale = el('span', '', metric.label + ': ' + fmt(min));
        var bar = el('span', 'ramp');
        bar.style.background = 'linear-gradient(to right, ' + data.palette.join(', ') + ')';
        scale.appendChild(bar);
        scale.appendChild(document.createTextNode(fmt(max)));
        legend.appendChild(scale);
      } else {
        legend.appendChild(el('span', '', metric.label + ': ' + fmt(min) + ' everywhere'));
      }
      if (cells.some(function (c) { return c.classList.contains('flag'); })) {
        var fl = el('span');
        fl.appendChild(el('span', 'flag-key'));
        fl.appendChild(document.createTextNode('did not end ok'));
        legend.appendChild(fl);
      }
      if (known.length < cells.filter(function (c) { return plate.statusOf[Number(c.getAttribute('data-i'))] !== 'absent'; }).length) {
        var nv = el('span');
        nv.appendChild(el('span', 'sw cell no-value'));
        nv.appendChild(document.createTextNode('no value'));
        legend.appendChild(nv);
      }
    }
    function show(cell) {
      cells.forEach(function (c) { c.classList.toggle('active', c === cell); });
      info.textContent = cell.getAttribute('title');
    }
    select.addEventListener('change', paint);
    section.addEventListener('mouseover', function (e) {
      var cell = e.target.closest && e.target.closest('.cell[data-i]');
      if (cell) show(cell);
    });
    section.addEventListener('focusin', function (e) {
      if (e.target.matches && e.target.matches('.cell[data-i]')) show(e.target);
    });
    paint();
  });
})();
`;
