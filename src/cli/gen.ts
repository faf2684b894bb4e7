// `iommu-replay gen WORKLOAD -o FILE [--events N] [--seed S] [--devices K] [--fragmentation F] [--rate X] [--s2-page-sizes 4K,2M,1G] [--window BYTES] [--buffer BYTES] [--transfer BYTES] [--pattern random|sequential] [--write] [--granule 4K|16K|64K] [--iova-free strict|lazy]`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { InputError } from '../errors.js';
import { DOCS_EPILOGUE, POSITIVE_INTEGER, SEED, numberOption } from './options.js';
import { progressBar } from './progress.js';
import { STDIO, withOutputFile } from './stdio.js';
import { DEFAULT_OPTIONS, WORKLOADS, findWorkload, generate } from '../workloads/index.js';
import { WINDOW_PATTERNS, window, windowShape, windowShapeProblem, type WindowPattern } from '../workloads/window.js';
import { byteSizeOf } from '../config/limits.js';
import { printable } from '../text.js';

interface Args {
  workload: string;
  out: string;
  events: number;
  seed: number;
  devices: number;
  fragmentation: number;
  rate: number;
  's2-page-sizes': string;
  window?: string;
  buffer?: string;
  transfer?: string;
  pattern: string;
  write?: boolean;
  granule: string;
  'iova-free': string;
}

export const genCommand: CommandModule<object, Args> = {
  command: 'gen <workload>',
  describe: DESCRIBE.gen,
  builder: (y) =>
    y
      .positional('workload', { type: 'string', demandOption: true, describe: `what to imitate: ${WORKLOADS.map((w) => w.name).join(', ')}` })
      .option('out', {
        alias: 'o',
        type: 'string',
        demandOption: true,
        describe: 'output trace (.arrow file or .arrows stream; - writes a stream to standard output)',
      })
      .option('events', numberOption('events', POSITIVE_INTEGER, { default: DEFAULT_OPTIONS.events, describe: 'number of events' }))
      .option('seed', numberOption('seed', SEED, { default: DEFAULT_OPTIONS.seed, describe: 'random seed (same seed, same bytes)' }))
      .option(
        'devices',
        numberOption(
          'devices',
          { expected: 'an integer in 1..64', integer: true, min: 1, max: 64 },
          { default: DEFAULT_OPTIONS.devices, describe: 'devices of the workload' },
        ),
      )
      .option(
        'fragmentation',
        numberOption(
          'fragmentation',
          { expected: 'a number in 0..1', min: 0, max: 1 },
          { default: DEFAULT_OPTIONS.fragmentation, describe: '0..1: how often large buffers are not physically contiguous and aligned' },
        ),
      )
      .option(
        'rate',
        numberOption('rate', { expected: 'a positive number', min: 0, minInclusive: false }, { default: 1, describe: "scale of the workload's event rate" }),
      )
      .option('window', { type: 'string', describe: 'window: the bytes the transfers fall in, the first of the buffer: bytes or 4K/1.5M-style (default 4M)' })
      .option('buffer', { type: 'string', describe: 'window: the buffer mapped once, as pcie-bench maps it (default 64M, at least the window)' })
      .option('transfer', { type: 'string', describe: 'window: the bytes of each DMA (default 64)' })
      .option('pattern', { type: 'string', default: 'random', describe: `window: where the transfers fall, ${WINDOW_PATTERNS.join(' or ')}` })
      .option('write', { type: 'boolean', describe: 'window: DMA writes instead of reads' })
      .option('granule', {
        type: 'string',
        default: '4K',
        describe:
          "DMA-API workloads (nic, nvme, gpu, window, mixed): the IOVA granule dma-iommu maps in (4K, 16K or 64K, an Arm SMMU's); maps are rounded to it",
      })
      .option('iova-free', {
        type: 'string',
        default: 'strict',
        describe:
          "DMA-API workloads: when an unmapped IOVA may be mapped again: strict, at once; lazy, after its domain's flush queue is flushed, as Linux's lazy mode (iommu.strict=0) frees it (the model's default queue: 256 unmaps or 10 ms)",
      })
      .option('s2-page-sizes', { type: 'string', default: '4K+2M+1G', describe: "vm-nested: the host's stage-2 page sizes; the largest backs guest RAM" })
      .example('$0 gen nic -o nic.arrows --events 100000', 'a NIC-like trace of 100,000 events')
      .example('$0 gen nvme -o - | $0 replay -', 'generate and replay without a file')
      .example('$0 gen window --window 1.5M --transfer 128 --fragmentation 0 -o w.arrows', "pcie-bench's random 128-byte reads over 1.5 MiB of a 64 MiB buffer")
      .epilogue(`${WORKLOADS.map((w) => `${w.name}: ${w.describe}.`).join('\n')}\n\n${DOCS_EPILOGUE}`) as never,
  handler: async (args) => {
    const w = findWorkload(args.workload);
    if (!w) throw new InputError(`Unknown workload "${args.workload}": expected one of ${WORKLOADS.map((x) => x.name).join(', ')}`);
    const s2 = String(args['s2-page-sizes'])
      .split(/[,+|]/)
      .map((t) => parseSizeLog2(t.trim()));
    if (!s2.every((l) => l !== undefined && l >= 12 && l <= 30))
      throw new InputError(`Invalid option --s2-page-sizes: expected page sizes from 4K to 1G such as 4K+2M, got ${args['s2-page-sizes']}`);
    const s2PageSizes = (s2 as number[]).map((l) => 2 ** l);
    const sizeOption = (flag: string, text: string | undefined): number | undefined => {
      if (text === undefined) return undefined;
      const n = byteSizeOf(text);
      if (n === undefined || n > 2 ** 40)
        throw new InputError(`Invalid option --${flag}: expected a size up to 1T, e.g. 262144, 256K or 1.5M, got ${printable(text, 40)}`);
      return n;
    };
    if (!(WINDOW_PATTERNS as readonly string[]).includes(args.pattern))
      throw new InputError(`Invalid option --pattern: expected one of ${WINDOW_PATTERNS.join(', ')}, got ${printable(args.pattern, 40)}`);
    const shape = {
      windowBytes: sizeOption('window', args.window),
      bufferBytes: sizeOption('buffer', args.buffer),
      transferBytes: sizeOption('transfer', args.transfer),
      pattern: args.pattern as WindowPattern,
      write: args.write ?? false,
    };
    if (w.name === window.name) {
      const problem = windowShapeProblem(windowShape({ ...DEFAULT_OPTIONS, ...shape }));
      if (problem) throw new InputError(`Invalid window options: ${problem}`);
    }
    // iommu_dma_init_domain(): the granule is the smallest page size; io-pgtable-arm's are 4K, 16K and 64K.
    const granuleLog2 = parseSizeLog2(String(args.granule));
    if (granuleLog2 !== 12 && granuleLog2 !== 14 && granuleLog2 !== 16)
      throw new InputError(`Invalid option --granule: expected 4K, 16K or 64K, got ${args.granule}`);
    if (granuleLog2 !== 12 && !w.granules)
      throw new InputError(
        `Invalid option --granule ${args.granule}: the ${w.name} workload maps in 4 KiB pages only; --granule applies to ${WORKLOADS.filter((x) => x.granules)
          .map((x) => x.name)
          .join(', ')}`,
      );
    if (w.fixedDevices && args.devices !== 1)
      throw new InputError(`Invalid option --devices ${args.devices}: the ${w.name} workload has a fixed set of devices (see gen --help)`);
    const iovaFree = String(args['iova-free']);
    if (iovaFree !== 'strict' && iovaFree !== 'lazy')
      throw new InputError(`Invalid option --iova-free: expected strict or lazy, got ${printable(iovaFree, 40)}`);
    if (iovaFree === 'lazy' && w.dmaApi === false)
      throw new InputError(`Invalid option --iova-free lazy: the ${w.name} workload has no DMA-API IOVAs (its maps stand for CPU page-table changes)`);
    const opts = {
      events: args.events,
      seed: args.seed,
      devices: args.devices,
      fragmentation: args.fragmentation,
      rateScale: args.rate,
      s2PageSizes,
      ...shape,
      granule: 2 ** granuleLog2,
      ...(iovaFree === 'lazy' ? { iovaFree: 'lazy' as const } : {}),
    };
    // `-o -`: an Arrow stream on standard output, once the whole trace is made.
    const bar = progressBar(opts.events);
    let rows: number;
    try {
      rows = await withOutputFile(args.out, '.arrows', (file) => generate(w, file, opts, (n) => bar.update(n)));
      bar.finish();
    } finally {
      bar.stop();
    }
    process.stderr.write(`wrote ${rows} events to ${args.out === STDIO ? 'standard output' : args.out}\n`);
  },
};
