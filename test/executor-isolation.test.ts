/**
 * Two tasks running at the same moment in one thread pool cannot see each other's in-memory
 * intermediates: each task has its own FileManager and memory backend. (The reference Python tool
 * shares one memory backend between threads.) The tasks are made to overlap for real: a step waits
 * until both have arrived before the next step reads the intermediates back from memory.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { createExecutor } from '../dist/execution/executors/index.js';
import type { TaskResult } from '../dist/execution/result.js';
import type { PlateIndex } from '../dist/microscopes/types.js';
import type { PipelineDefinition } from '../dist/pipeline/types.js';
import { byWell, fixture, plansFor, tinyPlate } from './executor-harness.js';
import { tempDir } from './helpers.js';

let dir: string;
let plate: PlateIndex;

beforeAll(async () => {
  dir = await tempDir('plateflow-isolation-');
  plate = await tinyPlate(path.join(dir, 'plate'), 2, 48, 21);
});

function pipeline(meeting: string, count: number): PipelineDefinition {
  return {
    modules: [fixture('rendezvous.mjs')],
    steps: [
      // Each task's projection goes to its own memory backend...
      { name: 'project', func: 'max_projection', variableComponents: ['z'], backend: 'memory' },
      // ...both tasks then wait here, each holding its intermediate in memory...
      { name: 'meet', func: [['rendezvous', { dir: meeting, count }]], variableComponents: ['site'], backend: 'memory' },
      // ...and each measures what it reads back.
      { name: 'measure', func: 'image_stats', variableComponents: ['site'], backend: 'disk' },
    ],
  };
}

const stats = (r: TaskResult) => r.measurements.map((m) => m.values);

it('concurrent tasks in one thread pool read back only their own intermediates', async () => {
  const serialMeeting = path.join(dir, 'meet-serial');
  await mkdir(serialMeeting);
  // Serial cannot overlap, so its rendezvous must not wait: count 1.
  const serialPlans = await plansFor(pipeline(serialMeeting, 1), plate, path.join(dir, 'out-serial'));
  const serial = createExecutor('serial');
  const expected = byWell(await serial.run(serialPlans));
  await serial.close();

  const meeting = path.join(dir, 'meet-threads');
  await mkdir(meeting);
  const threads = createExecutor('threads', { workers: 2, cpus: 2 });
  const got = byWell(await threads.run(await plansFor(pipeline(meeting, 2), plate, path.join(dir, 'out-threads'))));
  await threads.close();

  for (const well of ['A01', 'A02']) {
    expect(got[well]!.status, JSON.stringify(got[well]!.error)).toBe('ok');
    expect(stats(got[well]!)).toEqual(stats(expected[well]!));
  }
  // The two wells hold different images, so a mix-up could not go unnoticed.
  expect(stats(expected.A01!)).not.toEqual(stats(expected.A02!));
});
