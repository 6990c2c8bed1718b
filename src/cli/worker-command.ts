import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../errors.js';
import { REDIS_URL_ENV, startWorker, type WorkerEvent } from '../distributed/index.js';
import { parseBytes, parseDuration } from '../execution/resources/units.js';
import { EXIT } from './exit-codes.js';
import { log, positiveInt } from './options.js';

interface WorkerFlags {
  redis?: string;
  roots: string;
  queue: string;
  concurrency?: number;
  name?: string;
  lockDuration: string;
  stalledInterval?: string;
  maxStalled?: number;
  timeout?: string;
  workerMemory?: string;
  python?: string;
  closeTimeout: string;
  json: boolean;
  quiet: boolean;
}

const nonNegativeInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`must be an integer ≥ 0, got "${value}"`);
  return n;
};

export function workerCommand(): Command {
  return new Command('worker')
    .description('run tasks of distributed runs (--executor bullmq) from a Redis queue, each in a sandboxed child process')
    .option('--redis <url>', `Redis URL, redis://[user:password@]host:port[/db] or rediss:// for TLS (default: $${REDIS_URL_ENV}; prefer the variable for passwords, command lines are visible to other users)`)
    .requiredOption('--roots <dirs>', 'comma-separated directories plans may read and write (plates, outputs, function modules); jobs naming anything else are refused')
    .option('--queue <name>', 'queue to take tasks from', 'tasks')
    .option('-c, --concurrency <n>', 'tasks at once, each in its own process (default: available CPUs)', positiveInt('--concurrency'))
    .option('--name <name>', 'worker name shown in results and status (default: <hostname>:<pid>)')
    .option('--lock-duration <duration>', 'how long a job stays locked without renewal; a dead worker\'s jobs are retried about this long after it died', '30s')
    .option('--stalled-interval <duration>', 'how often to look for jobs of dead workers (default: the lock duration)')
    .option('--max-stalled <n>', 'end a job killed once the workers running it were lost more than n times (default: never; a lost worker is not its task\'s fault, and a limit counts honest worker losses too: set one only against a job that kills whole workers)', nonNegativeInt)
    .option('--timeout <duration>', 'time limit for tasks whose run set none, e.g. 10m')
    .option('--worker-memory <size>', 'RSS limit of each task process, e.g. 4GB; a task over it ends killed')
    .option('--close-timeout <duration>', 'on SIGTERM/SIGINT, how long running tasks may finish before their jobs are handed back to the queue', '30s')
    .option('--python <path>', 'Python interpreter for the jobs\' py: steps (default: $PLATEFLOW_PYTHON, else python3 on PATH); jobs name functions, never the interpreter')
    .option('--json', 'print one JSON event per line on stdout', false)
    .option('-q, --quiet', 'print only warnings and errors', false)
    .action(async (flags: WorkerFlags) => {
      const redis = flags.redis ?? process.env[REDIS_URL_ENV];
      if (!redis) throw new ConfigError(`give --redis <url> or set ${REDIS_URL_ENV}`);
      const roots = flags.roots.split(',').map((s) => s.trim()).filter(Boolean);
      const lockDurationMs = parseDuration(flags.lockDuration, '--lock-duration');
      const worker = await startWorker({
        redis,
        roots,
        queue: flags.queue,
        ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        lockDurationMs,
        ...(flags.stalledInterval ? { stalledIntervalMs: parseDuration(flags.stalledInterval, '--stalled-interval') } : {}),
        ...(flags.maxStalled !== undefined ? { maxStalledCount: flags.maxStalled } : {}),
        ...(flags.timeout ? { defaultTimeoutMs: parseDuration(flags.timeout, '--timeout') } : {}),
        ...(flags.workerMemory ? { workerMemoryBytes: parseBytes(flags.workerMemory, '--worker-memory') } : {}),
        closeTimeoutMs: parseDuration(flags.closeTimeout, '--close-timeout'),
        ...(flags.python ? { python: flags.python } : {}),
        onEvent: printer(flags),
      });
      // First SIGINT/SIGTERM: finish running tasks (up to --close-timeout), take no new ones. Second: hand them back now.
      const exitCode = await new Promise<number>((resolve) => {
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals) => {
          signals++;
          if (signals === 1) log(`plateflow worker ${worker.name}: ${signal}, finishing running tasks (again to stop them now)`);
          void worker.close({ force: signals > 1 }).then(() => resolve(signal === 'SIGINT' ? EXIT.interrupted : EXIT.ok));
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      log(`plateflow worker ${worker.name}: stopped`);
      process.exitCode = exitCode;
    });
}

function printer(flags: WorkerFlags): (event: WorkerEvent) => void {
  if (flags.json) return (event) => process.stdout.write(JSON.stringify({ ...event, time: Date.now() }) + '\n');
  return (event) => {
    switch (event.type) {
      case 'ready':
        if (!flags.quiet) log(`plateflow worker ${event.name}: ready on queue "${event.queue}" at ${event.redis}, ${event.concurrency} task(s) at a time, roots ${event.roots.join(', ')}`);
        break;
      case 'task:start':
        break;
      case 'task:done':
        if (!flags.quiet || event.status !== 'ok') log(`${event.taskId} (run ${event.runId}) ${event.status} in ${event.seconds.toFixed(2)} s, attempt ${event.attempt}${event.retry ? ', will be retried' : ''}`);
        break;
      case 'task:refused':
        log(`refused job ${event.jobId}: [${event.code}] ${event.message}`);
        break;
      case 'task:requeued':
        log(`job ${event.jobId} handed back to the queue: ${event.reason}`);
        break;
      case 'log':
        if (!flags.quiet || event.level === 'warn') log(`${event.level === 'warn' ? 'warning: ' : ''}${event.message}`);
        break;
    }
  };
}
