import { Command } from 'commander';
import { getSlurmRunStatus, slurmRunDirFor } from '../distributed/slurm/status.js';
import { REDIS_URL_ENV, formatRunStatus, getRunStatus, statusOptionsFor } from '../distributed/index.js';

interface StatusFlags {
  redis?: string;
  queue?: string;
  json: boolean;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show where the tasks of a distributed run (--executor bullmq or slurm) stand: done, active, waiting, failed')
    .argument('<run-id|folder>', "the run id printed when the run started, or the run's output folder (for bullmq its results.json names the run, its queue and its Redis; for slurm the folder holds the run, and a run id is found while Slurm still lists its jobs)")
    .option('--redis <url>', `Redis URL (default: $${REDIS_URL_ENV}; for a folder, the address its results.json records, with the password of $${REDIS_URL_ENV} when that names the same server)`)
    .option('--queue <name>', 'queue the run used (default: the one results.json records, else tasks)')
    .option('--json', 'print the status as one JSON object, with every task', false)
    .action(async (target: string, flags: StatusFlags) => {
      const slurmRun = await slurmRunDirFor(target);
      if (slurmRun) {
        const status = await getSlurmRunStatus(slurmRun);
        process.stdout.write((flags.json ? JSON.stringify(status) : formatRunStatus(status)) + '\n');
        return;
      }
      const options = await statusOptionsFor({ target, redis: flags.redis, defaultRedis: process.env[REDIS_URL_ENV], queue: flags.queue });
      const status = await getRunStatus(options);
      process.stdout.write((flags.json ? JSON.stringify(status) : formatRunStatus(status)) + '\n');
    });
}
