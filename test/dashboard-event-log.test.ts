/**
 * The event log every run writes for `plateflow dashboard <out>` (real files in a temp folder):
 * what the writer writes is what the reader reads, read in any number of pieces as it grows; torn
 * lines are skipped; a new run's log (a new inode) restarts the reader. The dashboard state forgets
 * what a replaced plate counted. And worker usage is read from /proc for child processes only.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventLogWriter, eventLogPath, readEventLog, type LogPosition, type LogRecord } from '../src/dashboard/event-log.js';
import { DashboardState, type PlateInfo } from '../src/dashboard/state.js';
import { WorkerUsageReader } from '../src/dashboard/worker-usage.js';
import type { TaskResult } from '../src/execution/result.js';
import { tempDir } from './helpers.js';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('plateflow-event-log-');
});

async function plateFolder(): Promise<string> {
  const folder = path.join(dir, `out-${n++}`);
  await mkdir(path.join(folder, '.plateflow'), { recursive: true });
  return folder;
}

const info = (outputRoot: string, wells: readonly string[]): PlateInfo => ({
  name: 'plate',
  root: '/data/plate',
  format: 'ImageXpress',
  axis: ['well'],
  wells,
  grid: null,
  outputRoot,
  steps: ['project'],
  tasks: wells.map((w) => ({ id: w, axis: { well: w }, inputs: [{ file: `/data/plate/${w}.tif`, label: 'z 1' }] })),
});

const result = (taskId: string, status: TaskResult['status'] = 'ok'): TaskResult => ({
  taskId,
  axis: { well: taskId },
  status,
  seconds: 0.5,
  images: 2,
  outputs: [`1_project/${taskId}.tif`],
  measurements: [],
  metadata: [],
  ...(status === 'ok' ? {} : { error: { name: 'Error', message: `${taskId} failed` } }),
} as TaskResult);

describe('event log', () => {
  it('reads back what the writer wrote: the plan without inputs, starts, results without metadata, log lines, end', async () => {
    const folder = await plateFolder();
    const writer = EventLogWriter.forPlate(info(folder, ['A01', 'A02']), () => undefined);
    writer.record({ type: 'run:start', tasks: 2, executor: 'threads' });
    writer.record({ type: 'task:start', taskId: 'A01', worker: 4711 });
    writer.record({ type: 'task:done', result: result('A01') });
    writer.record({ type: 'log', level: 'warn', message: 'careful <b>' });
    await writer.close();
    await writer.close();
    const { records } = await readEventLog(eventLogPath(folder));
    expect(records.map((r) => r.type)).toEqual(['plan', 'start', 'done', 'log', 'end']);
    const plan = records[0] as Extract<LogRecord, { type: 'plan' }>;
    expect(plan.plate.tasks).toEqual([{ id: 'A01', axis: { well: 'A01' } }, { id: 'A02', axis: { well: 'A02' } }]);
    expect(records[1]).toEqual({ type: 'start', task: 'A01', worker: 4711 });
    expect((records[2] as Extract<LogRecord, { type: 'done' }>).result).not.toHaveProperty('metadata');
    expect((records[2] as Extract<LogRecord, { type: 'done' }>).result.outputs).toEqual(['1_project/A01.tif']);
  });

  it('read in any pieces as it grows, gives the records of one whole read; torn lines are skipped', async () => {
    const lines = [JSON.stringify({ v: 1, type: 'batch' }), JSON.stringify({ type: 'plate', name: 'a' }), '{"type":"pla', JSON.stringify({ type: 'plate', name: 'ünïcode' }), JSON.stringify({ type: 'end' })];
    const text = Buffer.from(lines.join('\n') + '\n');
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 6 }), async (cuts) => {
        const folder = await plateFolder();
        const file = eventLogPath(folder);
        await writeFile(file, '');
        let position: LogPosition | undefined;
        const seen: LogRecord[] = [];
        let at = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), text.length]) {
          await appendFile(file, text.subarray(at, cut));
          at = cut;
          const read = await readEventLog(file, position);
          expect(read.restarted).toBe(false);
          position = read.position;
          seen.push(...read.records);
        }
        expect(seen).toEqual([{ v: 1, type: 'batch' }, { type: 'plate', name: 'a' }, { type: 'plate', name: 'ünïcode' }, { type: 'end' }]);
        expect(position!.offset).toBe(text.length);
      }),
      { numRuns: 40 },
    );
  });

  it('a new run into the folder (a new file in place of the old) makes the reader start over', async () => {
    const folder = await plateFolder();
    const first = EventLogWriter.forPlate(info(folder, ['A01', 'A02', 'A03']), () => undefined);
    for (const w of ['A01', 'A02', 'A03']) first.record({ type: 'task:done', result: result(w) });
    await first.close();
    const read = await readEventLog(eventLogPath(folder));
    // The new log is shorter here, but the reader goes by the file (its inode), not by its size.
    const second = EventLogWriter.forPlate(info(folder, ['A01']), () => undefined);
    await second.flush();
    const again = await readEventLog(eventLogPath(folder), read.position);
    expect(again.restarted).toBe(true);
    expect(again.records[0]).toMatchObject({ type: 'plan', plate: { wells: ['A01'] } });
    await second.close();
  });

  it('a log that cannot be written warns once and never throws into the run', async () => {
    const warnings: string[] = [];
    await writeFile(path.join(dir, 'no'), 'a file where a folder should be');
    const writer = EventLogWriter.forPlate(info(path.join(dir, 'no', 'such'), ['A01']), (m) => warnings.push(m));
    writer.record({ type: 'task:start', taskId: 'A01' });
    await writer.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot write .*dashboard-events\.jsonl: .*`plateflow dashboard` will not follow this run/);
  });
});

describe('dashboard state', () => {
  it('a plate planned again (a new run into a followed folder) forgets what the old run counted', () => {
    const state = new DashboardState({ title: 't', canStop: false, now: () => 1 });
    state.plan(info('/out', ['A01', 'A02']));
    state.event({ type: 'task:start', taskId: 'A01' });
    state.event({ type: 'task:done', result: result('A01', 'error') });
    state.event({ type: 'task:done', result: result('A02') });
    const before = state.snapshot() as { totals: { done: number; failed: number }; problems: unknown[] };
    expect(before.totals).toMatchObject({ done: 2, failed: 1 });
    expect(before.problems).toHaveLength(1);
    state.plan(info('/out', ['A01', 'A02']));
    const after = state.snapshot() as { totals: { done: number; failed: number; tasks: number }; problems: unknown[]; plates: { tasks: { s: string }[] }[] };
    expect(after.totals).toMatchObject({ tasks: 2, done: 0, failed: 0 });
    expect(after.problems).toEqual([]);
    expect(after.plates[0]!.tasks.map((t) => t.s)).toEqual(['waiting', 'waiting']);
  });
});

describe('worker usage from /proc', () => {
  it.skipIf(process.platform !== 'linux')('reads RSS and CPU of a child process, and nothing of a pid that is not a child', async () => {
    const child = spawn(process.execPath, ['-e', 'const a = Buffer.alloc(64 * 1048576, 1); let x = 0; const end = Date.now() + 400; while (Date.now() < end) x += a[x % a.length]; setTimeout(() => {}, 30000);'], { stdio: 'ignore' });
    try {
      const reader = new WorkerUsageReader();
      const first = await reader.read([child.pid!, process.pid, 999_999_999]);
      expect([...first.keys()]).toEqual([child.pid]);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const second = (await reader.read([child.pid!])).get(child.pid!)!;
      // 64 MiB touched, plus Node itself.
      expect(second.rssMiB).toBeGreaterThan(64);
      expect(second.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(second.cpuPercent).toBeLessThan(250);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
