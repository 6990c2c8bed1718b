import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startDashboard } from '../dashboard/index.js';
import { DEFAULT_HOST, parseDashboardAddress } from '../dashboard/address.js';
import { watchOutputFolder } from '../dashboard/folder-source.js';
import { log } from './options.js';

interface DashboardFlags {
  port: number;
  host: string;
}

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description('serve the dashboard of a run from its output folder, finished or still running (live when the run was started with --dashboard)')
    .argument('<out-dir>', 'the output folder of a run or a batch')
    .option('--port <n>', 'port (0: any free port)', portNumber, 0)
    .option('--host <address>', 'address to bind; anything but a loopback address prints a warning', DEFAULT_HOST)
    .action(async (outDir: string, flags: DashboardFlags) => {
      const address = parseDashboardAddress(`${flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${flags.port}`, '--host/--port');
      const dashboard = await startDashboard({ address, title: path.basename(path.resolve(outDir)), live: false, eventLog: false, warn: (m) => log(`warning: ${m}`) });
      let watch;
      try {
        watch = await watchOutputFolder(outDir, dashboard);
      } catch (err) {
        await dashboard.close();
        throw err;
      }
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

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be 0-65535, got "${value}"`);
  return n;
}
