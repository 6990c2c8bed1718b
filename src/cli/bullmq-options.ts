/**
 * The flags `run` and `batch` add for `--executor bullmq`, and the executor they make. Kept apart
 * from run-options.ts so that file only has to list `bullmq` and call these two functions.
 */
import { Command } from 'commander';
import { REDIS_URL_ENV, createBullmqExecutor, type BullmqExecutor } from '../distributed/index.js';
import { ConfigError } from '../errors.js';

export interface BullmqFlags {
  redis?: string;
  queue: string;
  runId?: string;
}

export const BULLMQ_EXECUTOR_HELP = 'bullmq: tasks go through Redis to `plateflow worker` processes on any machine (needs --redis; see `plateflow worker --help`)';

export function addBullmqOptions(command: Command): Command {
  return command
    .option('--redis <url>', `with --executor bullmq: Redis URL, redis://[user:password@]host:port[/db] or rediss:// (default: $${REDIS_URL_ENV}, which keeps a password out of the process list)`)
    .option('--queue <name>', 'with --executor bullmq: the queue the workers listen on', 'tasks')
    .option('--run-id <id>', 'with --executor bullmq or slurm: resume this earlier run (its id is printed when it starts); only its unfinished tasks run again, and a Slurm run adopts its elements still in the queue');
}

/**
 * `--retries n` gives n + 1 attempts to tasks that end killed or timeout; without it (0, the
 * default) a distributed task still gets 3, because a crash on one machine is often not a crash on
 * the next. A worker that dies mid-task costs no attempt: its job is simply taken up again.
 * @throws ConfigError E_CONFIG_INVALID when no Redis URL is given
 */
export function bullmqExecutorFromFlags(flags: BullmqFlags & { retries: number; timeout?: number }): BullmqExecutor {
  const redis = flags.redis ?? process.env[REDIS_URL_ENV];
  if (!redis) throw new ConfigError(`--executor bullmq needs --redis <url> or ${REDIS_URL_ENV}`);
  return createBullmqExecutor({
    redis,
    queue: flags.queue,
    ...(flags.runId !== undefined ? { runId: flags.runId } : {}),
    ...(flags.retries > 0 ? { attempts: flags.retries + 1 } : {}),
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
  });
}
