import path from 'node:path';
import { Command } from 'commander';
import { discoverPlate } from '../microscopes/discover.js';
import type { AcquisitionMetadata } from '../microscopes/types.js';
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
        const a = plate.acquisition;
        process.stdout.write(
          JSON.stringify({
            root: plate.root,
            format: plate.format,
            images: (plate.records ?? plate.images).length,
            components: plate.components,
            ...(a?.channels ? { channels: a.channels } : {}),
            ...(a?.pixelSize ? { pixelSize: a.pixelSize } : {}),
            ...(a ? { acquisition: a } : {}),
            grid: plate.grid ?? null,
            skipped: plate.skipped,
          }) + '\n',
        );
        return;
      }
      const lines = [`plate:   ${plate.root}`, `format:  ${plate.format}`, `images:  ${(plate.records ?? plate.images).length}`];
      if (plate.grid) lines.push(`grid:    ${plate.grid.rows} rows × ${plate.grid.columns} columns`);
      const names = plate.acquisition?.channels ?? {};
      for (const [name, values] of Object.entries(plate.components)) {
        const named = name === 'channel' ? values.map((v) => (names[v] !== undefined ? `${v} (${names[v]})` : v)) : values;
        const shown = named.length > 12 ? `${named.slice(0, 12).join(' ')} … (${named.length})` : named.join(' ');
        lines.push(`  ${name.padEnd(10)} ${String(values.length).padStart(4)}  ${shown}`);
      }
      lines.push(...describeAcquisition(plate.acquisition));
      if (plate.skipped.length > 0) {
        lines.push(`unmatched files (${plate.skipped.length}, skipped):`);
        for (const s of plate.skipped.slice(0, 20)) lines.push(`  ${s.path}: ${s.reason}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}

/** Physical scale and where it came from, for people; nothing when the plate's files say nothing. */
function describeAcquisition(a: AcquisitionMetadata | undefined): string[] {
  if (!a) return [];
  const lines: string[] = [];
  const p = a.pixelSize;
  if (p) lines.push(`pixel:   ${p.x} × ${p.y} µm${p.z !== undefined ? `, z step ${p.z} µm` : ''}`);
  if (a.wavelengths) lines.push(`wavelength: ${Object.entries(a.wavelengths).map(([c, nm]) => `${c}: ${nm} nm`).join(', ')}`);
  if (a.source) lines.push(`metadata: ${a.source}`);
  return lines;
}
