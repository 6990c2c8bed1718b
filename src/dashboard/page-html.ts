/**
 * The dashboard page: a skeleton with no data in it. Everything from the run arrives as JSON and
 * is put into the page with `textContent` by app.js (served as a file: the CSP allows no inline
 * script), so no file name, well id or error message is ever parsed as HTML.
 *
 * @module
 */
export const PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plateflow dashboard</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header class="top">
  <div>
    <h1 id="title">plateflow dashboard</h1>
    <p class="muted"><span id="run-state">connecting…</span> · <span id="connection">connecting</span></p>
  </div>
  <div class="stop">
    <button type="button" id="stop" hidden>Stop the run</button>
    <span id="stop-confirm" hidden>Stop the run like Ctrl-C (running tasks are cancelled, partial results written)?
      <button type="button" id="stop-yes" class="danger">Yes, stop</button>
      <button type="button" id="stop-no">Cancel</button></span>
  </div>
</header>
<main>
<section class="card" id="totals-card">
  <h2>Run</h2>
  <div class="totals" id="totals"></div>
</section>
<div class="columns">
  <div class="maps">
    <section class="card">
      <div class="controls">
        <label>Colour by <select id="metric" aria-label="metric"></select></label>
        <span class="legend" id="legend"></span>
      </div>
      <div id="plates"></div>
      <p class="muted" id="hover">Hover over a well to see it; click it for its steps, measurements and images.</p>
    </section>
    <section class="card">
      <h2>Throughput <small>images/s</small></h2>
      <canvas id="throughput" width="600" height="140"></canvas>
      <h2>This process <small>RSS (MiB, blue) and CPU (%, orange) of the plateflow process: the coordinator, and the workers with --executor threads or serial</small></h2>
      <canvas id="process" width="600" height="120"></canvas>
    </section>
    <section class="card">
      <h2>Workers</h2>
      <p class="muted small">The processes and subprocess executors say which worker (pid) runs a task: their RSS and CPU (of one core) are read once a second, shown now and over time (blue RSS, orange CPU). For the others each running task takes the lowest free slot, and their usage is the plateflow process's, above. The peak RSS of a worker's last task is shown when it ends.</p>
      <table id="workers"><thead><tr><th>worker</th><th>current task</th><th class="num">running for</th><th class="num">tasks done</th><th class="num">RSS</th><th class="num">CPU</th><th>over time</th><th class="num">last task peak RSS</th></tr></thead><tbody></tbody></table>
    </section>
    <section class="card">
      <h2>Problems <small id="problem-count"></small></h2>
      <ol id="problems" class="problems"></ol>
    </section>
    <section class="card">
      <h2>Log</h2>
      <pre id="logs" class="logs"></pre>
    </section>
  </div>
  <aside class="card panel" id="panel">
    <h2 id="panel-title">No well selected</h2>
    <div id="panel-body" class="muted">Click a well (or a problem) to see it here.</div>
  </aside>
</div>
</main>
</body>
</html>
`;
