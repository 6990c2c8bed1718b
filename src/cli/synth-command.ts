import { Command, Option } from 'commander';
import { synthesizePlate } from '../synth/plate.js';
import { log, positiveInt } from './options.js';

export function synthCommand(): Command {
  return new Command('synth')
    .description('write a deterministic synthetic ImageXpress-style plate (uint16 TIFF)')
    .argument('<dir>', 'folder to create')
    .addOption(new Option('--wells <n>', 'number of wells (A01, A02, …)').argParser(positiveInt('--wells')).default(4))
    .addOption(new Option('--sites <n>', 'sites per well').argParser(positiveInt('--sites')).default(2))
    .addOption(new Option('--channels <n>', 'channels').argParser(positiveInt('--channels')).default(2))
    .addOption(new Option('--z <n>', 'z-planes').argParser(positiveInt('--z')).default(3))
    .addOption(new Option('--size <px>', 'image width and height').argParser(positiveInt('--size')).default(256))
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt('--seed')).default(1))
    .action(async (dir: string, o: { wells: number; sites: number; channels: number; z: number; size: number; seed: number }) => {
      const result = await synthesizePlate(dir, o);
      log(`wrote ${result.images} images (${o.wells} wells × ${o.sites} sites × ${o.channels} channels × ${o.z} z, ${o.size}²) to ${result.root}`);
    });
}
