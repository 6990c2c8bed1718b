/**
 * The dashboard's HTTP server (node:http, no framework): the page and its two assets, the event
 * stream, a task's details, image thumbnails, and Stop. Every request passes the Host check and
 * the token check first (see security.ts); nothing from the data reaches the page as HTML.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isPlateflowError } from '../errors.js';
import { formatErrorLines } from '../report/problems.js';
import { parseStretch } from './contrast.js';
import type { EventHub } from './events.js';
import { resolveOutputPath } from './image-path.js';
import { PAGE_HTML } from './page-html.js';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';
import { SECURITY_HEADERS, type AccessControl } from './security.js';
import type { DashboardState } from './state.js';
import type { ThumbnailCache } from './thumbnails.js';

export interface DashboardServerOptions {
  readonly host: string;
  readonly port: number;
  readonly state: DashboardState;
  readonly hub: EventHub;
  readonly access: AccessControl;
  readonly thumbnails: ThumbnailCache;
  /** What Stop does; without it Stop is refused (a finished folder has nothing to stop). */
  readonly onStop?: () => void;
}

/** Output images listed per task in the well panel at most; the rest are named, not rendered. */
const MAX_IMAGES = 48;
const THUMBNAIL_SIDE = 160;
const TIFF = /\.tiff?$/i;

/** Resolves with the server once it listens; rejects (EADDRINUSE, EACCES, …) if it cannot. */
export function listen(options: DashboardServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${err instanceof Error ? err.message : String(err)}`);
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      options.access.port = (server.address() as AddressInfo).port;
      resolve(server);
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, o: DashboardServerOptions): Promise<void> {
  if (!o.access.hostAllowed(req)) return send(res, 403, 'text/plain', 'refused: the Host header does not name this dashboard');
  const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
  const auth = o.access.authenticated(req, url);
  if (!auth) return send(res, 401, 'text/plain', 'refused: this dashboard needs the token from the URL plateflow printed');
  if (auth === 'query' && req.method === 'GET' && url.pathname === '/') {
    // The token leaves the address bar (and the history) at once; the cookie carries it from now on.
    res.writeHead(303, { ...SECURITY_HEADERS, 'Set-Cookie': o.access.setCookie(), Location: '/' });
    return void res.end();
  }
  if (url.pathname === '/api/stop') return req.method === 'POST' ? stop(req, res, o) : send(res, 405, 'text/plain', 'Stop is a POST');
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed');
  switch (url.pathname) {
    case '/':
      return send(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
    case '/app.js':
      return send(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT);
    case '/app.css':
      return send(res, 200, 'text/css; charset=utf-8', PAGE_STYLE);
    case '/favicon.ico':
      res.writeHead(204, SECURITY_HEADERS);
      return void res.end();
    case '/api/snapshot':
      return json(res, 200, { ...o.state.snapshot(), requestToken: o.access.requestToken });
    case '/api/session':
      return json(res, 200, { requestToken: o.access.requestToken });
    case '/api/events':
      return o.hub.attach(res);
    case '/api/task':
      return task(res, url, o);
    case '/api/image':
      return image(res, url, o);
    default:
      return send(res, 404, 'text/plain', 'not found');
  }
}

function stop(req: IncomingMessage, res: ServerResponse, o: DashboardServerOptions): void {
  if (!o.access.sameOriginWrite(req)) return send(res, 403, 'text/plain', 'refused: Stop must come from the dashboard page itself');
  if (!o.onStop) return send(res, 409, 'text/plain', 'nothing to stop: this dashboard shows a run from its folder');
  o.onStop();
  o.hub.flush();
  json(res, 202, { stopping: true });
}

function task(res: ServerResponse, url: URL, o: DashboardServerOptions): void {
  const found = o.state.task(Number(url.searchParams.get('plate')), url.searchParams.get('task') ?? '');
  if (!found) return send(res, 404, 'text/plain', 'no such task');
  const r = found.result;
  const outputs = (r?.outputs ?? []).filter((f) => TIFF.test(f));
  json(res, 200, {
    plate: found.plate.info.name,
    id: found.planned.id,
    axis: found.planned.axis,
    status: found.status,
    ...(found.worker !== undefined ? { worker: found.worker } : {}),
    ...(r
      ? {
          seconds: r.seconds,
          images: r.images,
          ...(r.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes } : {}),
          ...(r.attempts !== undefined ? { attempts: r.attempts } : {}),
          ...(r.resumed !== undefined ? { resumed: r.resumed } : {}),
          steps: r.steps ?? [],
          measurements: r.measurements.map((m) => ({ step: m.step, fn: m.fn, image: m.image, values: m.values })),
          ...(r.status !== 'ok' ? { error: formatErrorLines(r.error, false) } : {}),
        }
      : {}),
    outputs: outputs.slice(0, MAX_IMAGES).map((f) => ({ path: f, label: path.posix.basename(f) })),
    moreOutputs: Math.max(0, outputs.length - MAX_IMAGES) + (r?.outputs.length ?? 0) - outputs.length,
    inputs: (found.planned.inputs ?? []).slice(0, MAX_IMAGES).map((input, i) => ({ index: i, label: input.label })),
  });
}

/**
 * A PNG of an output image (`path`, relative to the plate's output folder) or of a task's input
 * (`task` + `input` index into its plan: no path from the request is ever opened for inputs).
 */
async function image(res: ServerResponse, url: URL, o: DashboardServerOptions): Promise<void> {
  const q = url.searchParams;
  const plate = o.state.plate(Number(q.get('plate')));
  if (!plate) return send(res, 404, 'text/plain', 'no such plate');
  let file: string;
  let plane = Number(q.get('plane') ?? 0);
  try {
    if (q.has('path')) {
      file = await resolveOutputPath(plate.info.outputRoot, q.get('path')!);
    } else {
      const input = plate.tasks.get(q.get('task') ?? '')?.planned.inputs?.[Number(q.get('input'))];
      if (!input) return send(res, 404, 'text/plain', 'no such input image');
      file = input.file;
      if (input.page !== undefined && !q.has('plane')) plane = input.page;
    }
  } catch (err) {
    if (isPlateflowError(err, 'E_PATH_UNSAFE')) return send(res, 403, 'text/plain', `refused: ${err.message}`);
    return send(res, 404, 'text/plain', 'no such image');
  }
  const size = q.get('size') === 'full' ? 0 : Math.min(2048, Math.max(16, Number(q.get('size')) || THUMBNAIL_SIDE));
  try {
    const rendered = await o.thumbnails.render({ file, plane, stretch: parseStretch(q.get('low'), q.get('high')), maxSide: size });
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'image/png', 'Content-Length': rendered.png.length, 'X-Plateflow-Range': `${rendered.lo} ${rendered.hi}`, 'Cache-Control': 'private, max-age=60' });
    res.end(rendered.png);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || isPlateflowError(err, 'E_NOT_FOUND')) return send(res, 404, 'text/plain', 'no such image');
    send(res, 422, 'text/plain', `cannot render this image: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type.includes('charset') || type.startsWith('image/') ? type : `${type}; charset=utf-8` });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}
