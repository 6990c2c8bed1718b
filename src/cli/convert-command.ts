import { Command, InvalidArgumentError, Option } from 'commander';
import { convertPlate, describeConvert, type ConvertProgress } from '../ome-zarr/convert.js';
import { parseNgffVersion, type NgffVersion } from '../ome-zarr/ngff.js';
import type { ColorMode } from '../microscopes/samples.js';
import { colorOption, log, positiveInt } from './options.js';

interface ConvertFlags {
  ngff: NgffVersion;
  compression: 'gzip' | 'zlib' | 'none';
  level: number;
  format?: string;
  pattern?: string;
  lenient: boolean;
  color: ColorMode;
  overwrite: boolean;
  concurrency?: number;
  levels?: number;
  quiet: boolean;
  json: boolean;
}

function ngffVersion(value: string): NgffVersion {
  try {
    return parseNgffVersion(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('convert a plate (ImageXpress, Opera Phenix, ArrayScan, plateflow TIFF output, OME-Zarr) to an OME-Zarr plate')
    .argument('<plate>', 'plate folder')
    .argument('<out>', 'output folder, e.g. plate.zarr')
    .addOption(new Option('--ngff <version>', 'NGFF version: 0.4 (zarr v2) or 0.5 (zarr v3)').argParser(ngffVersion).default('0.4'))
    .addOption(new Option('--compression <codec>', 'chunk compression').choices(['gzip', 'zlib', 'none']).default('gzip'))
    .addOption(new Option('--level <n>', 'compression level 1 (fast) … 9 (small)').argParser(positiveInt('--level')).default(1))
    .option('--format <name>', 'skip detection and use this source format')
    .option('--pattern <pattern>', 'source file-name pattern with named groups')
    .option('--lenient', 'skip and report unmatched image files instead of failing', false)
    .addOption(colorOption())
    .option('--overwrite', 'replace <out> if it exists', false)
    .addOption(new Option('--levels <n>', 'multiscale levels per position, each 2× smaller (default: enough to get below 1024 px)').argParser(positiveInt('--levels')))
    .addOption(new Option('--concurrency <n>', 'positions converted at once (default: 2 × available CPUs)').argParser(positiveInt('--concurrency')))
    .option('--json', 'print the result as one JSON object', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .action(async (plateDir: string, out: string, flags: ConvertFlags) => {
      const progress = flags.quiet || flags.json ? undefined : progressPrinter();
      const result = await convertPlate(plateDir, out, {
        ngff: flags.ngff,
        compression: flags.compression,
        level: flags.level,
        overwrite: flags.overwrite,
        discover: { lenient: flags.lenient, color: flags.color, ...(flags.format ? { format: flags.format } : {}), ...(flags.pattern ? { pattern: flags.pattern } : {}) },
        ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
        ...(flags.levels ? { levels: flags.levels } : {}),
        ...(progress ? { onProgress: progress.update } : {}),
      });
      progress?.finish();
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
      else if (!flags.quiet) process.stdout.write(describeConvert(result) + '\n');
    });
}

/** One self-rewriting line on a terminal; a line per 10 % otherwise (CI logs). */
function progressPrinter() {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let lastDecile = -1;
  let lastDraw = 0;
  return {
    update(p: ConvertProgress): void {
      const rate = p.done / Math.max(0.001, (Date.now() - started) / 1000);
      const line = `converting ${p.done}/${p.total} planes (${Math.floor((100 * p.done) / p.total)}%), ${rate.toFixed(0)} planes/s`;
      if (tty) {
        if (Date.now() - lastDraw < 100 && p.done < p.total) return;
        lastDraw = Date.now();
        process.stderr.write(`\r${line}\x1b[K`);
        return;
      }
      const decile = Math.floor((10 * p.done) / p.total);
      if (decile !== lastDecile) {
        lastDecile = decile;
        log(line);
      }
    },
    finish(): void {
      if (tty) process.stderr.write('\n');
    },
  };
}
