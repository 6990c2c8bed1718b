import { Command, CommanderError } from 'commander';
import { convertCommand } from './convert-command.js';
import { batchCommand } from './batch-command.js';
import { dashboardCommand } from './dashboard-command.js';
import { demoCommand } from './demo-command.js';
import { inspectCommand } from './inspect-command.js';
import { resourcesCommand } from './resources-command.js';
import { runCommand } from './run-command.js';
import { slurmScriptCommand } from './slurm-script-command.js';
import { statusCommand } from './status-command.js';
import { synthCommand } from './synth-command.js';
import { workerCommand } from './worker-command.js';
import { EXIT, reportError } from './exit-codes.js';

const HELP_HINT = (command: string) => `(see "${command} --help" for the options)`;

const program = new Command('plateflow')
  .description('Parallel, resumable image-processing pipelines over microscopy plates.')
  .version('0.1.0')
  .showHelpAfterError(HELP_HINT('plateflow'))
  .exitOverride()
  .addCommand(inspectCommand())
  .addCommand(runCommand())
  .addCommand(batchCommand())
  .addCommand(synthCommand())
  .addCommand(demoCommand())
  .addCommand(convertCommand())
  .addCommand(resourcesCommand())
  .addCommand(workerCommand())
  .addCommand(statusCommand())
  .addCommand(dashboardCommand())
  .addCommand(slurmScriptCommand());

// Subcommands added with addCommand do not inherit these settings; without exitOverride commander
// would call process.exit(1) itself for bad usage, where DESIGN §3 wants 2.
// A bad option gets its error and one line pointing at the help, not the whole help text.
for (const command of program.commands) command.exitOverride().showHelpAfterError(HELP_HINT(`plateflow ${command.name()}`));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version requests exit 0; everything else commander rejects is bad usage.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  } else {
    process.exitCode = reportError(err);
  }
}
