/**
 * Process side of the `processes` and `subprocess` executors, started with `child_process.fork`
 * (never exported from the package). It runs plans sent by the parent with the same `runTask` as
 * every executor and answers with one message per plan (see executors/child-protocol.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { PROGRESS_ENV, type ChildMessage, type ParentMessage } from './executors/child-protocol.js';
import { prepareWorker, runTask } from './run-task.js';

if (!process.send) throw new Error('child-entry must be started with child_process.fork');

const send = (message: ChildMessage): void => {
  // The callback swallows ERR_IPC_CHANNEL_CLOSED: a parent that went away has nothing to hear.
  process.send!(message, undefined, undefined, () => {});
};

// Ctrl-C reaches the whole process group; the parent decides what to cancel, and kills us if needed.
process.on('SIGINT', () => {});
// The parent closed the channel (graceful close, or it died): nothing more will come.
process.on('disconnect', () => process.exit(0));

new Worker(new URL('./executors/orphan-guard.js', import.meta.url), { workerData: { parentPid: process.ppid, intervalMs: 200 } }).unref();

const progressMs = Number(process.env[PROGRESS_ENV] ?? 0);

process.on('message', (message: ParentMessage) => {
  if (message?.type !== 'run') return;
  void runOne(message);
});

// A failure here is not fatal: the first task meets it again and reports it as its own.
const prepared = prepareWorker().catch(() => undefined);
void prepared.then(() => send({ type: 'ready' }));

async function runOne({ id, plan, threads }: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  // Loading the task code, WASM kernels and the plan's modules is this process's start-up, not
  // the task's time. A failure is left for the task to meet again and report as its own.
  await prepared;
  await prepareWorker(plan.modules).catch(() => undefined);
  send({ type: 'started', id });
  resetPeakRss();
  const heartbeat = progressMs > 0 ? setInterval(() => send({ type: 'progress', id, rssBytes: process.memoryUsage.rss() }), progressMs) : undefined;
  heartbeat?.unref();
  try {
    const result = await runTask(plan, { threads });
    send({ type: 'result', id, result: { ...result, peakRssBytes: peakRss() } });
  } catch (err) {
    send({ type: 'error', id, error: serializeError(err) });
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * Linux keeps a peak-RSS mark per process (VmHWM) that writing "5" to clear_refs resets, which
 * gives a true per-task peak in a long-lived worker. Elsewhere the process-lifetime peak is used.
 */
function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux, or not permitted: peakRss() falls back to the lifetime peak.
  }
}

function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // fall through
  }
  return process.resourceUsage().maxRSS * 1024;
}
