#!/usr/bin/env node
// libuv sizes its thread pool (file reads, writes, fsync, zlib) once, on first use. Worker threads
// share this process's pool, and a task's fsyncs hold pool threads while they wait on the disk, so
// the default 4 would make reads queue behind writes. Waiting threads cost no CPU.
process.env.UV_THREADPOOL_SIZE ??= '16';
if (process.argv[2] === 'slurm-element') await (await import('./slurm-element-command.js')).slurmElementMain(process.argv.slice(3));
else await import('./program.js');
