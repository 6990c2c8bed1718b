import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DashboardError } from '../errors.js';
import { startDashboard } from '../dashboard/index.js';
import { DEFAULT_HOST, parseDashboardAddress } from '../dashboard/address.js';
import { servedFolderOf, watchOutputFolder } from '../dashboard/folder-source.js';
import { REDIS_URL_ENV, getRunOutputRoots, statusOptionsFor } from '../distributed/index.js';
import { outputRootOfRunDir } from '../distributed/slurm/run-files.js';
import { slurmRunDirFor } from '../distributed/slurm/status.js';
import { log } from './options.js';

interface DashboardFlags {
  port: number;
  host: string;
  redis?: string;
  queue?: string;
}

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description('serve the dashboard of a run from its output folder, finished or still running; a Slurm or BullMQ run can be named by its run id')
    .argument('<out-dir|run-id>', "the output folder of a run or a batch, or the run id a --executor slurm|bullmq run printed (Slurm: while squeue still lists its jobs; BullMQ: from the run's record in Redis)")
    .option('--port <n>', 'port (0: any free port)', portNumber, 0)
    .option('--host <address>', 'address to bind; anything but a loopback address prints a warning', DEFAULT_HOST)
    .option('--redis <url>', `Redis URL of a BullMQ run (default: $${REDIS_URL_ENV})`)
    .option('--queue <name>', 'queue of a BullMQ run (default: tasks)')
    .action(async (target: string, flags: DashboardFlags) => {
      const address = parseDashboardAddress(`${flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${flags.port}`, '--host/--port');
      const folder = await folderOf(target, flags);
      const dashboard = await startDashboard({ address, title: path.basename(folder), live: false, warn: (m) => log(`warning: ${m}`) });
      let watch;
      try {
        watch = await watchOutputFolder(folder, dashboard);
      } catch (err) {
        await dashboard.close();
        throw err;
      }
      if (folder !== path.resolve(target)) log(`run ${target}: serving ${folder}`);
      log(`dashboard: ${dashboard.url}`);
      log('(Ctrl-C to stop serving)');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      watch.close();
      await dashboard.close();
    });
}

/**
 * The output folder to serve: `target` itself when it is a folder; else the folder of the Slurm
 * run (found as `plateflow status` finds it) or the BullMQ run (from its record in Redis) with that id.
 * @throws as slurmRunDirFor, statusOptionsFor, getRunOutputRoots and servedFolderOf
 */
async function folderOf(target: string, flags: DashboardFlags): Promise<string> {
  if (existsSync(target)) return path.resolve(target);
  const slurmRun = await slurmRunDirFor(target);
  if (slurmRun) return servedFolderOf([outputRootOfRunDir(slurmRun)], target);
  const redis = flags.redis ?? process.env[REDIS_URL_ENV];
  if (redis === undefined) throw new DashboardError(`${target}: no such folder, and not the id of a Slurm run squeue lists; for a BullMQ run give --redis <url> (or set $${REDIS_URL_ENV})`, { path: target });
  const options = await statusOptionsFor({ target, redis, queue: flags.queue });
  return servedFolderOf(await getRunOutputRoots(options), options.runId);
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be 0-65535, got "${value}"`);
  return n;
}
