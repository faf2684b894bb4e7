// `iommu-replay gen WORKLOAD -o FILE [--events N] [--seed S] [--devices K] [--fragmentation F] [--rate X]`
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
  window?: string;
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
      .option('window', { type: 'string', describe: 'window: the buffer size, bytes or 4K/2M/1G-style (default 4M)' })
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
    const windowLog2 = args.window === undefined ? undefined : /^\d+$/.test(args.window) ? undefined : parseSizeLog2(args.window);
    const windowBytes = args.window === undefined ? undefined : /^\d+$/.test(args.window) ? Number(args.window) : windowLog2 === undefined ? NaN : 2 ** windowLog2;
    if (windowBytes !== undefined) check('window', Number.isSafeInteger(windowBytes) && windowBytes >= 64 && windowBytes <= 2 ** 40, 'a size from 64 bytes to 1T, e.g. 262144 or 256K', args.window);
    const rows = await generate(w, args.out, { events: args.events, seed: args.seed, devices: args.devices, fragmentation: args.fragmentation, rateScale: args.rate, windowBytes });
    process.stderr.write(`wrote ${rows} events to ${args.out}\n`);
  },
};
