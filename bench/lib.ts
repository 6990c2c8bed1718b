/**
 * What every bench needs: the package root (benches run compiled from build/bench/, so relative
 * imports of dist/ would point at the wrong place), the compiled library, and the Python peer
 * invoked the way the environment notes ask (OpenBLAS overrides unset for that command only).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Plateflow from '../dist/index.js';

export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'plateflow') return dir;
    } catch {
      // not here; keep climbing
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the plateflow package root');
    dir = up;
  }
}

export async function importPlateflow(): Promise<typeof Plateflow> {
  return (await import(pathToFileURL(path.join(packageRoot(), 'dist', 'index.js')).href)) as typeof Plateflow;
}

export async function importDist<T>(relative: string): Promise<T> {
  return (await import(pathToFileURL(path.join(packageRoot(), 'dist', relative)).href)) as T;
}

export const PEERS = path.resolve(packageRoot(), '..', 'shared', 'peers');
export const PYTHON = '/usr/bin/python3';

/** Runs a peer script and returns its last stdout line parsed as JSON. */
export function runPython(script: string, args: readonly string[]): Record<string, unknown> {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(PYTHON, [path.join(PEERS, script), ...args], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const last = lines[lines.length - 1]!;
  return last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : { line: last };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
