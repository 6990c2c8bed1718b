/**
 * Resume markers of `processPosition`: one pair of files per (t, channel-group) unit, in a hidden
 * folder of the output position that Zarr readers and discovery ignore.
 *
 * ```
 * <output position>/.plateflow-units/
 *   t3_c0-1.inprogress   written (atomically) before the unit reads anything
 *   t3_c0-1.done         written (atomically, fsynced) after its last chunk was renamed into place;
 *                        then the .inprogress file is removed
 * ```
 *
 * A unit is done only when its `.done` marker exists *and* carries the same fingerprint (input,
 * function, kwargs, unit) as the run asking; anything else — no marker, only `.inprogress` (the
 * run died inside the unit), or a stale fingerprint — is redone from scratch. Chunks are renamed
 * into place whole (see `storage/zarr-io.ts`), so a redone unit simply overwrites whatever the
 * dead run had written: no torn chunk can survive.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../storage/atomic.js';
import { writeAtomic } from '../storage/zarr-io.js';

export const MARKER_DIR = '.plateflow-units';

/** What a unit is: the input time and channels it reads, the output ones it writes. */
export interface UnitSpec {
  readonly t: number;
  readonly channels: readonly number[];
  readonly outT: number;
  readonly outChannels: readonly number[];
}

/** Marker file stem of a unit, named by what it writes: `t<outT>_c<c1>-<c2>`. */
export function unitId(unit: UnitSpec): string {
  return `t${unit.outT}_c${unit.outChannels.join('-')}`;
}

export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

export interface DoneMarker {
  readonly unit: UnitSpec;
  readonly fingerprint: string;
  readonly status: 'done' | 'skipped-empty';
  readonly reason?: string;
  readonly finishedAt: string;
}

export function markerPaths(outputPosition: string, unit: UnitSpec): { readonly inProgress: string; readonly done: string } {
  const dir = path.join(outputPosition, MARKER_DIR);
  const id = unitId(unit);
  return { inProgress: path.join(dir, `${id}.inprogress`), done: path.join(dir, `${id}.done`) };
}

export async function markInProgress(outputPosition: string, unit: UnitSpec, fp: string): Promise<void> {
  const { inProgress } = markerPaths(outputPosition, unit);
  const body = JSON.stringify({ unit, fingerprint: fp, pid: process.pid, startedAt: new Date().toISOString() });
  await writeAtomic(inProgress, new TextEncoder().encode(body));
}

/** The done marker is the commit point of a unit, so it is fsynced (with its directory). */
export async function markDone(outputPosition: string, marker: DoneMarker): Promise<void> {
  const { inProgress, done } = markerPaths(outputPosition, marker.unit);
  await writeFileAtomic(done, JSON.stringify(marker));
  await rm(inProgress, { force: true });
}

/**
 * A unit found done on resume: a run killed between its `.done` and the removal of its
 * `.inprogress` left both, and the `.done` is the commit point, so the other goes now.
 */
export async function settleDone(outputPosition: string, unit: UnitSpec): Promise<void> {
  await rm(markerPaths(outputPosition, unit).inProgress, { force: true });
}

/** The done marker of `unit` when it exists and matches `fp`; undefined otherwise. */
export async function readDone(outputPosition: string, unit: UnitSpec, fp: string): Promise<DoneMarker | undefined> {
  const { done } = markerPaths(outputPosition, unit);
  let text: string;
  try {
    text = await readFile(done, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const marker = JSON.parse(text) as DoneMarker;
    return marker.fingerprint === fp ? marker : undefined;
  } catch {
    return undefined; // cannot happen with atomic writes, but a hand-edited marker must not stop a run
  }
}

/** Forget every unit (a fresh, non-resumed run). */
export async function clearMarkers(outputPosition: string): Promise<void> {
  await rm(path.join(outputPosition, MARKER_DIR), { recursive: true, force: true });
}

/** Units a dead run left in progress (their `.inprogress` files), by unit id. */
export async function inProgressUnits(outputPosition: string): Promise<string[]> {
  try {
    return (await readdir(path.join(outputPosition, MARKER_DIR))).filter((n) => n.endsWith('.inprogress')).map((n) => n.slice(0, -'.inprogress'.length));
  } catch {
    return [];
  }
}
