/**
 * `plateflow dashboard <out-dir>`: a run shown from what it leaves in its output folder, while it
 * runs or after. Per plate folder, the event log every run writes (event-log.ts) is followed as
 * it grows; without one (a run of an older plateflow), the plate's `results.json` is read once it
 * exists. A batch folder's own log names its plate folders as they start; a finished batch's
 * `results.json` names them too.
 *
 * Following is pushed by `fs.watch` on each `.plateflow/` folder (a line appended shows within
 * the writer's 250 ms batching) and pulled by polling every `pollMs`, for filesystems whose
 * changes inotify does not see (NFS, another machine's writes) and folders that appear later.
 * Once the run has ended the folder is no longer looked at: a later run into it is shown by a new
 * `plateflow dashboard`. A new run that replaces a log being followed replaces its plate.
 *
 * Paths and names in these files are data: the images a page may ask for stay inside the folder
 * the user named (each plate's `outputRoot` is a folder under it, never what a file says).
 *
 * @module
 */
import { existsSync, watch } from 'node:fs';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DashboardError } from '../errors.js';
import type { TaskResult } from '../execution/result.js';
import { axisOf, plateName, type RunDocument } from '../report/document.js';
import { CHECKPOINT_DIR } from '../storage/checkpoints.js';
import { eventLogPath, readEventLog, type LogPosition } from './event-log.js';
import type { Dashboard } from './index.js';
import type { PlateInfo } from './state.js';

interface Followed {
  readonly folder: string;
  /** Batch plates are named by their folder; a single plate by its plate folder, as the live run named it. */
  readonly name: string | undefined;
  position: LogPosition | undefined;
  planned: string | undefined;
  ended: boolean;
}

/** The plate folders of an output folder, and whether the run that writes them has ended (undefined: not known from the folder alone). */
interface Layout {
  readonly plates: readonly { readonly folder: string; readonly name: string | undefined }[];
  readonly ended: boolean | undefined;
}

export interface FolderWatch {
  close(): void;
}

/**
 * Feeds `dashboard` from `dir` now and on every change until closed. A folder whose run has
 * taken it but not yet planned (only `.plateflow/` there) is followed as it fills.
 * @throws DashboardError `E_DASHBOARD` when `dir` holds no plateflow run
 */
export async function watchOutputFolder(dir: string, dashboard: Dashboard, pollMs = 500): Promise<FolderWatch> {
  const root = path.resolve(dir);
  const followed = new Map<string, Followed>();
  // Keyed by folder; a folder that cannot be watched gets a placeholder so it is not tried on every scan.
  const watchers = new Map<string, { close(): void }>();
  let closed = false;
  const scan = async (): Promise<void> => {
    const layout = await plateFolders(root);
    for (const f of layout.plates) if (!followed.has(f.folder)) followed.set(f.folder, { ...f, position: undefined, planned: undefined, ended: false });
    for (const f of followed.values()) if (!f.ended) await follow(f, dashboard);
    for (const folder of [root, ...followed.keys()]) watchFolder(folder);
    const all = [...followed.values()];
    if (all.length > 0 && all.every((f) => f.ended) && (layout.ended ?? !existsSync(path.join(root, CHECKPOINT_DIR, 'run.lock')))) {
      dashboard.setRunState('finished');
      // Nothing more will come: no more looks at the folder (a finished batch's results.json can be megabytes).
      stop();
    }
  };
  // One scan at a time; a change during a scan asks for one more after it.
  let running: Promise<void> | undefined;
  let again = false;
  const kick = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = scan()
      .catch(() => undefined) // a file replaced mid-read is read again on the next change or poll
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };
  const watchFolder = (folder: string): void => {
    const dotDir = path.join(folder, CHECKPOINT_DIR);
    if (watchers.has(dotDir) || closed || !existsSync(dotDir)) return;
    try {
      const watcher = watch(dotDir, { persistent: false }, kick);
      // Out of inotify watches, or the folder removed: polling still follows it.
      watcher.on('error', () => watcher.close());
      watchers.set(dotDir, watcher);
    } catch {
      watchers.set(dotDir, { close: () => undefined });
    }
  };

  if (!existsSync(path.join(root, CHECKPOINT_DIR)) && !existsSync(path.join(root, 'results.json')) && (await plateFolders(root)).plates.length === 0) {
    throw new DashboardError(`${root}: not a plateflow output folder (no results.json, no ${CHECKPOINT_DIR}/ and no plate folders holding them)`, { path: root });
  }
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = (): void => {
    closed = true;
    clearInterval(timer);
    for (const w of watchers.values()) w.close();
  };
  await scan();
  if (!closed) timer = setInterval(kick, pollMs);
  return { close: stop };
}

async function plateFolders(root: string): Promise<Layout> {
  const kind = await logKind(root);
  if (kind === 'batch') {
    // A batch's own log is one line per plate: small enough to read whole on every look.
    const own = (await readEventLog(eventLogPath(root))).records;
    const names = own.flatMap((r) => (r.type === 'plate' && safeName(r.name) ? [r.name] : []));
    return { plates: [...new Set(names)].map((name) => ({ folder: path.join(root, name), name })), ended: own.some((r) => r.type === 'end') };
  }
  if (kind === 'plan') return { plates: [{ folder: root, name: undefined }], ended: undefined };
  const results = await readJson(path.join(root, 'results.json'));
  if (results && (results as { batch?: unknown }).batch === true) {
    const plates = (results as { plates?: { name?: unknown }[] }).plates ?? [];
    return { plates: plates.filter((p) => typeof p.name === 'string' && safeName(p.name)).map((p) => ({ folder: path.join(root, p.name as string), name: p.name as string })), ended: true };
  }
  if (results || existsSync(path.join(root, CHECKPOINT_DIR, 'tasks'))) return { plates: [{ folder: root, name: undefined }], ended: undefined };
  // A batch folder of a plateflow that wrote no batch log: its plate folders that hold a run.
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return {
    plates: entries
      .filter((e) => e.isDirectory() && safeName(e.name) && (existsSync(eventLogPath(path.join(root, e.name))) || existsSync(path.join(root, e.name, 'results.json'))))
      .map((e) => ({ folder: path.join(root, e.name), name: e.name })),
    ended: undefined,
  };
}

/**
 * Whether `folder` holds a batch's log or a plate's, from the log's first bytes only (a plate's
 * plan line lists every task: megabytes for a big plate, not to be read on every look).
 */
async function logKind(folder: string): Promise<'batch' | 'plan' | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(eventLogPath(folder), 'r');
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const kind = /^\{"v":\d+,"type":"(batch|plan)"/.exec(head.toString('utf8', 0, bytesRead))?.[1];
    return kind === 'batch' || kind === 'plan' ? kind : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

async function follow(f: Followed, dashboard: Dashboard): Promise<void> {
  const log = eventLogPath(f.folder);
  if (existsSync(log)) {
    const { records, position, restarted } = await readEventLog(log, f.position);
    f.position = position;
    // A new run into the folder: its plan (the first record) replaces the plate.
    if (restarted) f.planned = undefined;
    for (const r of records) {
      if (r.type === 'plan') {
        f.planned = f.name ?? r.plate.name;
        dashboard.plan({ ...r.plate, name: f.planned, outputRoot: f.folder, tasks: r.plate.tasks.map((t) => ({ id: t.id, axis: t.axis })) });
      } else if (f.planned === undefined) continue;
      else if (r.type === 'start') dashboard.event({ type: 'task:start', taskId: r.task, ...(r.worker !== undefined ? { worker: r.worker } : {}) }, f.planned);
      else if (r.type === 'done') dashboard.event({ type: 'task:done', result: r.result }, f.planned);
      else if (r.type === 'log') dashboard.event({ type: 'log', level: r.level, message: r.message }, f.planned);
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
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[\\/\0]/.test(name);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The folder `plateflow dashboard` serves for a distributed run whose tasks write into
 * `outputRoots`: the one folder, or the batch folder that holds them all (a batch started on
 * Slurm or BullMQ: its own event log says it is one).
 * @throws DashboardError `E_DASHBOARD` when the folders have no common batch folder, or none is reachable here
 */
export async function servedFolderOf(outputRoots: readonly string[], runId: string): Promise<string> {
  const roots = [...new Set(outputRoots.map((r) => path.resolve(r)))];
  if (roots.length === 0) throw new DashboardError(`run ${runId} has no tasks recorded yet`, { runId });
  const parents = new Set(roots.map((r) => path.dirname(r)));
  const parent = [...parents][0]!;
  const batch = parents.size === 1 && (await logKind(parent)) === 'batch';
  if (roots.length > 1 && !batch) {
    throw new DashboardError(`run ${runId} writes into ${roots.length} folders that are not the plates of one batch (${roots.slice(0, 3).join(', ')}${roots.length > 3 ? ', …' : ''}): serve one with \`plateflow dashboard <folder>\``, { runId });
  }
  const folder = batch ? parent : roots[0]!;
  if (!existsSync(folder)) throw new DashboardError(`run ${runId} writes into ${folder}, which is not reachable from this machine (the dashboard reads the run's output folder: run it where that folder is mounted)`, { runId, path: folder });
  return folder;
}
