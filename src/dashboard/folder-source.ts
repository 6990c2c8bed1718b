/**
 * `plateflow dashboard <out-dir>`: a run shown from what it leaves in its output folder, while it
 * runs or after. Per plate folder, the event log a `--dashboard` run writes (event-log.ts) is
 * followed as it grows; without one, the plate's `results.json` (a finished run) is read. A batch
 * folder is its `results.json` (finished) or the plate folders under it (running: new plates are
 * picked up as they start).
 *
 * Paths and names in these files are data: the images a page may ask for stay inside the folder
 * the user named (each plate's `outputRoot` is the folder itself, never what a file says).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DashboardError } from '../errors.js';
import type { TaskResult } from '../execution/result.js';
import { axisOf, plateName, type RunDocument } from '../report/document.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import { eventLogPath, readEventLog } from './event-log.js';
import type { Dashboard } from './index.js';
import type { PlateInfo } from './state.js';

interface Followed {
  readonly folder: string;
  /** Batch plates are named by their folder; a single plate by its plate folder, as the live run named it. */
  readonly name: string | undefined;
  offset: number;
  planned: string | undefined;
  ended: boolean;
}

export interface FolderWatch {
  close(): void;
}

/**
 * Feeds `dashboard` from `dir` now and every `pollMs` until closed.
 * @throws DashboardError `E_DASHBOARD` when `dir` holds no plateflow run
 */
export async function watchOutputFolder(dir: string, dashboard: Dashboard, pollMs = 500): Promise<FolderWatch> {
  const root = path.resolve(dir);
  const followed = new Map<string, Followed>();
  const scan = async (): Promise<void> => {
    for (const f of await plateFolders(root)) if (!followed.has(f.folder)) followed.set(f.folder, { ...f, offset: 0, planned: undefined, ended: false });
    for (const f of followed.values()) if (!f.ended) await follow(f, dashboard);
    const all = [...followed.values()];
    if (all.length > 0 && all.every((f) => f.ended) && !existsSync(path.join(root, CHECKPOINT_DIR, 'run.lock'))) dashboard.setRunState('finished');
  };
  await scan();
  if (followed.size === 0) throw new DashboardError(`${root}: not a plateflow output folder (no results.json, no ${CHECKPOINT_DIR}/ and no plate folders holding them)`, { path: root });
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    scan()
      .catch(() => undefined) // a file replaced mid-read is read again on the next poll
      .finally(() => (busy = false));
  }, pollMs);
  return { close: () => clearInterval(timer) };
}

/** The plate folders of `root`: itself, or the plates of a batch. */
async function plateFolders(root: string): Promise<{ folder: string; name: string | undefined }[]> {
  const results = await readJson(path.join(root, 'results.json'));
  if (results && (results as { batch?: unknown }).batch === true) {
    const plates = (results as { plates?: { name?: unknown }[] }).plates ?? [];
    return plates.filter((p) => typeof p.name === 'string' && safeName(p.name)).map((p) => ({ folder: path.join(root, p.name as string), name: p.name as string }));
  }
  if (results || existsSync(eventLogPath(root)) || existsSync(path.join(root, CHECKPOINT_DIR, 'tasks'))) return [{ folder: root, name: undefined }];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && safeName(e.name) && (existsSync(eventLogPath(path.join(root, e.name))) || existsSync(path.join(root, e.name, 'results.json'))))
    .map((e) => ({ folder: path.join(root, e.name), name: e.name }));
}

async function follow(f: Followed, dashboard: Dashboard): Promise<void> {
  const log = eventLogPath(f.folder);
  if (existsSync(log)) {
    const { records, offset } = await readEventLog(log, f.offset);
    f.offset = offset;
    for (const r of records) {
      if (r.type === 'plan') {
        f.planned = f.name ?? r.plate.name;
        dashboard.plan({ ...r.plate, name: f.planned, outputRoot: f.folder, tasks: r.plate.tasks.map((t) => ({ id: t.id, axis: t.axis })) });
      } else if (f.planned === undefined) continue;
      else if (r.type === 'start') dashboard.event({ type: 'task:start', taskId: r.task, ...(r.worker !== undefined ? { worker: r.worker } : {}) }, f.planned);
      else if (r.type === 'done') dashboard.event({ type: 'task:done', result: r.result }, f.planned);
      else if (r.type === 'end') f.ended = true;
    }
    return;
  }
  const doc = (await readJson(path.join(f.folder, 'results.json'))) as RunDocument | undefined;
  if (!doc || typeof doc.tasks !== 'object' || doc.tasks === null) return;
  const name = f.name ?? plateName(doc);
  const tasks = Object.values(doc.tasks) as TaskResult[];
  dashboard.plan(documentPlate(doc, name, f.folder, tasks));
  for (const result of tasks) dashboard.event({ type: 'task:done', result }, name);
  f.ended = true;
}

function documentPlate(doc: RunDocument, name: string, folder: string, tasks: readonly TaskResult[]): PlateInfo {
  return {
    name,
    root: doc.plate.root,
    format: doc.plate.format,
    axis: axisOf(doc),
    wells: doc.plate.components.well ?? [],
    grid: doc.plate.grid ?? null,
    outputRoot: folder,
    steps: (doc.steps ?? []).map((s) => s.name),
    tasks: tasks.map((t) => ({ id: t.taskId, axis: t.axis })),
  };
}

/** A batch's plate name is one folder under it, never a path. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[\\/\0]/.test(name);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
