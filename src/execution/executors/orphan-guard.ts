/**
 * Runs as a worker thread inside every child worker process. If the parent dies (SIGKILL, crash)
 * the child must not live on: Node has no PR_SET_PDEATHSIG, and the child's own event loop may be
 * stuck in a CPU loop and never see the IPC channel close. A thread keeps running whatever the
 * main thread does, so it polls the parent pid and kills its own process when the parent is gone.
 */
import { workerData } from 'node:worker_threads';

const { parentPid, intervalMs } = workerData as { parentPid: number; intervalMs: number };

setInterval(() => {
  // Re-parented (to init or a subreaper): our parent is gone.
  if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
}, intervalMs);
