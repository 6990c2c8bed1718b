import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { processInfo } from '../src/storage/process-liveness.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
export const STANDARD = path.join(REPO, 'examples', 'standard.json');
export const ARRAYSCAN = path.resolve(REPO, '..', 'shared', 'data', 'bbbc016-arrayscan');

/** A temp dir removed after the file's tests. */
export async function tempDir(prefix = 'plateflow-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI (npm test builds dist/ first). */
export function cli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: options.timeout ?? 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function lastJsonLine(text: string): Record<string, unknown> {
  const lines = text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

/** Writes a pipeline document as JSON to `file` and returns the path. */
export async function writePipeline(file: string, pipeline: Readonly<Record<string, unknown>>): Promise<string> {
  await writeFile(file, JSON.stringify(pipeline));
  return file;
}

/**
 * True while `pid` is a running process. A zombie (exited, not yet reaped: common in containers
 * whose init does not reap orphans) is not: it runs no code and holds nothing but its pid.
 */
export function isRunning(pid: number): boolean {
  return processInfo(pid) !== undefined;
}

/** Resolves once none of `pids` is running; rejects after `timeoutMs` naming those that still are. */
export async function waitUntilGone(pids: Iterable<number>, timeoutMs = 10_000): Promise<void> {
  const list = [...pids];
  const deadline = Date.now() + timeoutMs;
  while (list.some(isRunning)) {
    if (Date.now() > deadline) throw new Error(`still running after ${timeoutMs} ms: ${list.filter(isRunning).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Polls `probe` until it gives a value (not undefined/false); rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
