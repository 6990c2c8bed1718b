import { STATUS_COLORS } from '../report/html-assets.js';

/** The dashboard's stylesheet, served as /app.css (the CSP allows no inline style element). */
export const PAGE_STYLE = `
:root { --ink: #1f2933; --muted: #616e7c; --line: #dde3ea; --card: #fff; --bg: #f3f5f8; --bad: ${STATUS_COLORS.error}; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
header.top { display: flex; justify-content: space-between; align-items: center; gap: 16px; padding: 14px 20px; background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
header h1 { margin: 0; font-size: 20px; overflow-wrap: anywhere; }
header p { margin: 2px 0 0; }
main { padding: 8px 20px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; margin-top: 14px; }
.card h2 { margin: 0 0 10px; font-size: 16px; }
.card h2 small, .small { font-weight: 400; color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
.columns { display: grid; grid-template-columns: minmax(0, 1fr) 420px; gap: 14px; align-items: start; }
@media (max-width: 1100px) { .columns { grid-template-columns: 1fr; } }
.panel { position: sticky; top: 80px; max-height: calc(100vh - 96px); overflow: auto; }
.totals { display: flex; flex-wrap: wrap; gap: 10px 24px; }
.totals div { min-width: 90px; }
.totals b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.totals span { color: var(--muted); font-size: 12px; }
.controls { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin-bottom: 8px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; border: 1px solid #0002; }
.plate { margin: 6px 0 14px; }
.plate h3 { margin: 0 0 4px; font-size: 14px; overflow-wrap: anywhere; }
.plate h3 small { color: var(--muted); font-weight: 400; margin-left: 6px; }
canvas.map { display: block; cursor: pointer; max-width: 100%; }
canvas#throughput, canvas#process { width: 100%; max-width: 900px; height: auto; }
canvas.spark { display: block; width: 120px; height: 22px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; font-size: 13px; }
th { color: var(--muted); font-size: 11px; text-transform: uppercase; }
td.num, th.num { text-align: right; white-space: nowrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
.problems { padding-left: 20px; margin: 0; }
.problems li { margin-bottom: 8px; cursor: pointer; }
pre.error, pre.logs { margin: 4px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.45 ui-monospace, Menlo, Consolas, monospace; }
pre.logs { max-height: 220px; overflow: auto; color: var(--muted); }
.thumbs { display: flex; flex-wrap: wrap; gap: 8px; }
.thumbs figure { margin: 0; width: 160px; }
.thumbs img { display: block; width: 128px; height: auto; max-height: 160px; object-fit: contain; image-rendering: pixelated; background: #000; }
.thumbs figcaption { font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
.contrast { display: flex; gap: 8px; align-items: center; font-size: 12px; margin: 6px 0; }
.contrast input { width: 64px; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
button#stop, button.danger { background: var(--bad); color: #fff; border-color: var(--bad); }
.cells button { margin: 0 4px 4px 0; }
`;
