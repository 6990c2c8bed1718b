#!/usr/bin/env node
// libuv sizes its thread pool (file reads, writes, fsync, zlib) once, on first use. Worker threads
// share this process's pool, and a task's fsyncs hold pool threads while they wait on the disk, so
// the default 4 would make reads queue behind writes. Waiting threads cost no CPU.
process.env.UV_THREADPOOL_SIZE ??= '16';
// A reader that went away (`| head`, a `| tee` ended by the same Ctrl-C) makes every later write
// fail with EPIPE. Unhandled, that error ends the process with exit 1 in the middle of stopping
// the run; the output is lost either way, the run's own outcome and exit code must not be.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
if (process.argv[2] === 'slurm-element') await (await import('./slurm-element-command.js')).slurmElementMain(process.argv.slice(3));
else await import('./program.js');
