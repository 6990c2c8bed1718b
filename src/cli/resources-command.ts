import { Command } from 'commander';
import { probeCpus } from '../execution/resources/cpus.js';
import { probeGpus } from '../execution/resources/gpus.js';
import { probeMemory } from '../execution/resources/memory.js';
import { formatBytes } from '../execution/resources/units.js';

/** `plateflow resources`: the CPU count pools will be sized with, each source read and why, memory and GPUs. */
export function resourcesCommand(): Command {
  return new Command('resources')
    .description('show the CPUs, memory and GPUs plateflow will plan with, and where each number comes from')
    .option('--json', 'print one JSON object', false)
    .action(async (opts: { json: boolean }) => {
      const cpus = probeCpus();
      const memory = probeMemory();
      const gpus = await probeGpus();
      if (opts.json) {
        process.stdout.write(JSON.stringify({ cpus: cpus.cpus, chosenBy: cpus.chosenBy, sources: cpus.sources, memory, gpus, defaults: { executor: 'threads', workers: cpus.cpus } }) + '\n');
        return;
      }
      const lines = [`cpus: ${cpus.cpus} (from ${cpus.chosenBy.join(', ')}; default workers for --executor threads)`];
      for (const s of cpus.sources) lines.push(`  ${s.name.padEnd(22)} ${String(s.cpus ?? '-').padStart(4)}  ${s.detail}${s.file ? ` [${s.file}]` : ''}`);
      lines.push(`memory: ${formatBytes(memory.limitBytes)} limit, ${formatBytes(memory.freeBytes)} free`);
      for (const s of memory.sources) lines.push(`  ${s.name.padEnd(32)} ${(s.bytes === null ? '-' : formatBytes(s.bytes)).padStart(10)}  ${s.detail}`);
      lines.push(`gpus: ${gpus.gpus.length} (${gpus.detail})`);
      for (const g of gpus.gpus) lines.push(`  GPU ${g.index}: ${g.memoryUsedMiB} / ${g.memoryTotalMiB} MiB used`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
