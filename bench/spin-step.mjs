import { appendFileSync } from 'node:fs';

// The task of bench:slurm: busy on the CPU until its process has used kwargs.cpu_ms of CPU time
// since the step began (not wall time: a task that has to share its core takes longer, as real
// work would), then passes the stack through with one measurement row per image. With
// kwargs.log it first appends "<well> <pid>" to that file, so the soak can count executions.
export const benchSpin = {
  name: 'bench_spin',
  description: 'spins until the process has used kwargs.cpu_ms of CPU, logs the execution to kwargs.log when given',
  run(stack, kwargs, ctx) {
    if (kwargs.log) appendFileSync(kwargs.log, `${ctx.components[0].well} ${process.pid}\n`);
    const start = process.cpuUsage();
    const budgetUs = kwargs.cpu_ms * 1000;
    let used = 0;
    while (used < budgetUs) {
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    return { stack, measurements: ctx.components.map(() => ({ spun_cpu_ms: Math.round(used / 1000) })) };
  },
};
