/**
 * `plateflow demo --dashboard`: the demo plate run slowly enough to watch (each task held by the
 * documented --task-delay step), served until Ctrl-C with its outputs kept until then, removed
 * after (no --keep). A bad --task-delay is bad usage.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { request, serve, snapshot } from './dashboard-helpers.js';
import { cli, waitFor } from './helpers.js';

describe('plateflow demo --dashboard', () => {
  it('holds each task for --task-delay, serves the finished demo with its outputs until Ctrl-C, then removes them', async () => {
    const served = await serve(['demo', '--dashboard', '0', '--task-delay', '300ms']);
    try {
      const tmp = (await waitFor('the working folder', () => /working in (\S+)/.exec(served.stderr())?.[1], 30_000))!;
      const snap = await waitFor('both demo runs to end', async () => {
        const s = await snapshot(served);
        return /demo finished/.test(served.stderr()) && s;
      }, 120_000);
      expect(snap.plates[0]!.name).toBe('synthetic');
      expect(snap.plates[0]!.tasks).toHaveLength(8);
      expect(snap.plates.flatMap((p) => p.tasks.map((t) => t.s)).every((s) => s === 'ok')).toBe(true);
      // The delay is the pipeline's first step, timed like any other.
      const task = JSON.parse((await request(served.port, '/api/task?plate=0&task=A01', { headers: { Cookie: served.cookie } })).body.toString()) as { steps: { name: string; seconds: number }[] };
      expect(task.steps[0]!.name).toBe('pause');
      expect(task.steps[0]!.seconds).toBeGreaterThanOrEqual(0.29);
      // Still serving, and the thumbnails' files are still there.
      expect(existsSync(path.join(tmp, 'synthetic-out', 'report.html'))).toBe(true);
      expect((await request(served.port, '/api/image?plate=0&task=A01&input=0', { headers: { Cookie: served.cookie } })).status).toBe(200);
      served.child.kill('SIGINT');
      expect(await served.exited).toBe(0);
      expect(existsSync(tmp)).toBe(false);
    } finally {
      served.child.kill('SIGKILL');
    }
  }, 180_000);

  it('a --task-delay that is not a duration is bad usage (exit 2)', () => {
    const r = cli(['demo', '--task-delay', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--task-delay/);
  });
});
