import { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { REDIS_URL_ENV, formatRunStatus, getRunStatus } from '../distributed/index.js';

interface StatusFlags {
  redis?: string;
  queue: string;
  json: boolean;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show where the tasks of a distributed run (--executor bullmq) stand: done, active, waiting, failed')
    .argument('<run-id>', 'the run id printed when the run started')
    .option('--redis <url>', `Redis URL (default: $${REDIS_URL_ENV})`)
    .option('--queue <name>', 'queue the run used', 'tasks')
    .option('--json', 'print the status as one JSON object, with every task', false)
    .action(async (runId: string, flags: StatusFlags) => {
      const redis = flags.redis ?? process.env[REDIS_URL_ENV];
      if (!redis) throw new ConfigError(`give --redis <url> or set ${REDIS_URL_ENV}`);
      const status = await getRunStatus({ redis, runId, queue: flags.queue });
      process.stdout.write((flags.json ? JSON.stringify(status) : formatRunStatus(status)) + '\n');
    });
}
