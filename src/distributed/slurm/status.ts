/**
 * `plateflow status` for a Slurm run, without its coordinator: the run folder says which tasks
 * there are and which elements wrote results; one squeue call says which are still queued or
 * running. The run is found from its output folder, or from its id while Slurm still lists it
 * (the elements' working directory is the run folder).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CHECKPOINT_DIR } from '../../storage/checkpoints.js';
import { PlateflowError } from '../../errors.js';
import { finished, tally, type RunStatus, type TaskStatusEntry } from '../status.js';
import { queueStates, workDirsOf, type SlurmCommandOptions } from './commands.js';
import { isLiveState } from './endings.js';
import { SlurmRunFiles, outputRootOfRunDir, type ElementEntry } from './run-files.js';

/**
 * The run folder `target` names: a run folder itself, or an output folder (its newest Slurm run).
 * Undefined when it is neither.
 */
export function findSlurmRunDir(target: string): string | undefined {
  if (existsSync(path.join(target, 'submissions'))) return target;
  const runs = path.join(target, CHECKPOINT_DIR, 'slurm');
  if (!existsSync(runs)) return undefined;
  const newest = readdirSync(runs)
    .map((name) => ({ dir: path.join(runs, name), mtime: statSync(path.join(runs, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)[0];
  return newest?.dir;
}

/**
 * The Slurm run `target` names: a run folder, an output folder holding one, or a run id Slurm still
 * lists (no Slurm here, or not listed: undefined, and the target is someone else's to resolve).
 */
export async function slurmRunDirFor(target: string, opts: SlurmCommandOptions = {}): Promise<string | undefined> {
  if (existsSync(target)) return statSync(target).isDirectory() ? findSlurmRunDir(target) : undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(target)) return undefined;
  const dirs = await workDirsOf(`plateflow-${target}`, opts).catch(() => []);
  return dirs.find((d) => existsSync(path.join(d, 'submissions')));
}

/** @throws when `runDir` holds no Slurm run; SlurmError when squeue fails */
export async function getSlurmRunStatus(runDir: string, opts: SlurmCommandOptions = {}): Promise<RunStatus> {
  if (!existsSync(path.join(runDir, 'submissions'))) throw new PlateflowError('E_NOT_FOUND', `${runDir} is not the folder of a plateflow Slurm run (it has no submissions/)`, { path: runDir });
  const files = new SlurmRunFiles(runDir);
  const submissions = files.submissions();
  // The newest submission of each task is the one that counts.
  const latest = new Map<string, { readonly entry: ElementEntry; readonly element: string | undefined }>();
  for (const s of submissions) s.elements.forEach((entry, index) => latest.set(entry.task, { entry, element: s.jobId !== undefined ? `${s.jobId}_${index}` : undefined }));
  const jobs = submissions.flatMap((s) => (s.jobId !== undefined ? [s.jobId] : []));
  const states = new Map((await queueStates(jobs, opts)).filter((e) => isLiveState(e.state)).map((e) => [`${e.jobId}_${e.taskId}`, e.state]));
  const entries: TaskStatusEntry[] = [];
  let updated = statSync(runDir).mtimeMs;
  for (const name of readdirSync(path.join(runDir, 'plans'))) {
    const task = name.slice(0, -'.json'.length);
    const taskId = decodeURIComponent(task.slice(task.indexOf('-') + 1));
    const last = latest.get(task);
    const base = { taskId, outputRoot: outputRootOfRunDir(runDir), jobId: last?.element ?? '' };
    const stored = last ? files.readResult(task, last.entry.attempt) : undefined;
    if (stored) {
      updated = Math.max(updated, statSync(files.resultFile(task, last!.entry.attempt)).mtimeMs);
      entries.push(finished(base, stored.result, 'slurm'));
      continue;
    }
    const state = last?.element ? states.get(last.element) : undefined;
    if (state?.startsWith('RUNNING') || state?.startsWith('COMPLETING')) entries.push({ ...base, state: 'active' });
    else if (state !== undefined) entries.push({ ...base, state: 'waiting' });
    else entries.push({ ...base, state: 'missing', error: last ? `element ${last.element ?? '(never submitted)'} left the queue without a result` : 'never submitted' });
  }
  return { runId: path.basename(runDir), queue: 'slurm', created: statSync(path.join(runDir, 'plans')).birthtimeMs || statSync(runDir).ctimeMs, updated, ...tally(entries) };
}
