// `iommu-replay gen WORKLOAD -o FILE [--events N] [--seed S] [--devices K] [--fragmentation F] [--rate X] [--s2-page-sizes 4K,2M,1G]`
import type { CommandModule } from 'yargs';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { InputError } from '../errors.js';
import { DEFAULT_OPTIONS, WORKLOADS, findWorkload, generate } from '../workloads/index.js';

interface Args {
  workload: string;
  out: string;
  events: number;
  seed: number;
  devices: number;
  fragmentation: number;
  rate: number;
  's2-page-sizes': string;
}

export const genCommand: CommandModule<object, Args> = {
  command: 'gen <workload>',
  describe: 'Generate a synthetic trace of a workload',
  builder: (y) =>
    y
      .positional('workload', { type: 'string', demandOption: true, describe: `what to imitate: ${WORKLOADS.map((w) => w.name).join(', ')}` })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'output trace (.arrow file or .arrows stream)' })
      .option('events', { type: 'number', default: DEFAULT_OPTIONS.events, describe: 'number of events' })
      .option('seed', { type: 'number', default: DEFAULT_OPTIONS.seed, describe: 'random seed (same seed, same bytes)' })
      .option('devices', { type: 'number', default: DEFAULT_OPTIONS.devices, describe: 'devices of the workload' })
      .option('fragmentation', { type: 'number', default: DEFAULT_OPTIONS.fragmentation, describe: '0..1: how often large buffers are not physically contiguous and aligned' })
      .option('rate', { type: 'number', default: 1, describe: "scale of the workload's event rate" })
      .option('s2-page-sizes', { type: 'string', default: '4K,2M,1G', describe: "vm-nested: the host's stage-2 page sizes; the largest backs guest RAM" })
      .epilogue(WORKLOADS.map((w) => `${w.name}: ${w.describe}.`).join('\n')) as never,
  handler: async (args) => {
    const w = findWorkload(args.workload);
    if (!w) throw new InputError(`Unknown workload "${args.workload}": expected one of ${WORKLOADS.map((x) => x.name).join(', ')}`);
    const check = (name: string, ok: boolean, want: string, got: unknown) => {
      if (!ok) throw new InputError(`Invalid option --${name}: expected ${want}, got ${got}`);
    };
    check('events', Number.isInteger(args.events) && args.events > 0, 'a positive integer', args.events);
    check('seed', Number.isInteger(args.seed) && args.seed >= 0 && args.seed <= 0xffffffff, 'an integer in 0..2^32-1', args.seed);
    check('devices', Number.isInteger(args.devices) && args.devices > 0 && args.devices <= 64, 'an integer in 1..64', args.devices);
    check('fragmentation', args.fragmentation >= 0 && args.fragmentation <= 1, 'a number in 0..1', args.fragmentation);
    check('rate', args.rate > 0 && Number.isFinite(args.rate), 'a positive number', args.rate);
    const s2 = String(args['s2-page-sizes']).split(',').map((t) => parseSizeLog2(t.trim()));
    check('s2-page-sizes', s2.every((l) => l !== undefined && l >= 12 && l <= 30), 'page sizes from 4K to 1G such as 4K,2M', args['s2-page-sizes']);
    const s2PageSizes = (s2 as number[]).map((l) => 2 ** l);
    const rows = await generate(w, args.out, { events: args.events, seed: args.seed, devices: args.devices, fragmentation: args.fragmentation, rateScale: args.rate, s2PageSizes });
    process.stderr.write(`wrote ${rows} events to ${args.out}\n`);
  },
};
