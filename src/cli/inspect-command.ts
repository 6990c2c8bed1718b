import path from 'node:path';
import { Command } from 'commander';
import { discoverPlate } from '../microscopes/discover.js';
import type { ColorMode } from '../microscopes/samples.js';
import { colorOption } from './options.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('discover a plate: its format, components with their values, and files that did not match')
    .argument('<plate>', 'plate folder')
    .option('--format <name>', 'skip detection and use this format (ImageXpress, OperaPhenix, ArrayScan, plateflow)')
    .option('--pattern <pattern>', 'file-name pattern with named groups, e.g. "{well}_s{site}_w{channel}.tif"')
    .option('--lenient', 'report unmatched image files instead of failing', false)
    .addOption(colorOption())
    .option('--json', 'print one JSON object', false)
    .action(async (plateDir: string, opts: { format?: string; pattern?: string; lenient: boolean; color: ColorMode; json: boolean }) => {
      const plate = await discoverPlate(path.resolve(plateDir), { ...(opts.format ? { format: opts.format } : {}), ...(opts.pattern ? { pattern: opts.pattern } : {}), lenient: opts.lenient, color: opts.color });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ root: plate.root, format: plate.format, images: plate.images.length, components: plate.components, grid: plate.grid ?? null, skipped: plate.skipped }) + '\n');
        return;
      }
      const lines = [`plate:   ${plate.root}`, `format:  ${plate.format}`, `images:  ${plate.images.length}`];
      if (plate.grid) lines.push(`grid:    ${plate.grid.rows} rows × ${plate.grid.columns} columns`);
      for (const [name, values] of Object.entries(plate.components)) {
        const shown = values.length > 12 ? `${values.slice(0, 12).join(' ')} … (${values.length})` : values.join(' ');
        lines.push(`  ${name.padEnd(10)} ${String(values.length).padStart(4)}  ${shown}`);
      }
      if (plate.skipped.length > 0) {
        lines.push(`unmatched files (${plate.skipped.length}, skipped):`);
        for (const s of plate.skipped.slice(0, 20)) lines.push(`  ${s.path}: ${s.reason}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
