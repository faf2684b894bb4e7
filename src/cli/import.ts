// `iommu-replay import FILE... -o TRACE [--format auto|ftrace|perf] [--synthesize-dma] [--strict] [--device BDF]...`
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { InputError } from '../errors.js';
import { formatBdf, parseBdf } from '../trace/schema.js';
import { importTrace } from '../import/convert.js';
import { attributionLine, lostLine, qemuLines, synthesizedLine, MAX_COHERENT_ACCESSES } from '../import/stats.js';
import { printable, shownPath } from '../text.js';
import { DOCS_EPILOGUE, SEED, numberOption } from './options.js';
import { STDIO, importInputs, withOutputFile } from './stdio.js';

interface Args {
  files: string[];
  out: string;
  format: string;
  synthesizeDma?: boolean;
  coherentRate: number;
  strict?: boolean;
  seed: number;
  device?: string[];
  qemuFlushes?: boolean;
}

export const importCommand: CommandModule<object, Args> = {
  command: 'import <files..>',
  describe: DESCRIBE.import,
  builder: (y) =>
    y
      .positional('files', {
        type: 'string',
        array: true,
        demandOption: true,
        default: undefined,
        describe: 'trace text files (kernel traces and QEMU vtd_*, smmuv3_* or amdvi_* logs, told apart by content; .gz is read too); - reads standard input',
      })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'output trace (.arrow or .arrows; - writes a stream to standard output)' })
      .option('format', { type: 'string', default: 'auto', describe: 'auto, ftrace (also trace-cmd report) or perf (perf script)' })
      .option('synthesize-dma', {
        type: 'boolean',
        describe: 'generate device accesses: each streaming mapping read/written once, coherent memory at --coherent-rate',
      })
      .option(
        'coherent-rate',
        numberOption(
          'coherent-rate',
          { expected: 'a non-negative number', min: 0 },
          {
            default: 1000,
            describe: `accesses per second to each coherent allocation (with --synthesize-dma); at most ${MAX_COHERENT_ACCESSES} an allocation, spread over its whole life`,
          },
        ),
      )
      .option('strict', { type: 'boolean', describe: 'any unparseable line, or lost events, is an error' })
      .option('qemu-flushes', {
        type: 'boolean',
        describe:
          "with a QEMU log: replay QEMU's domain-selective and global IOTLB invalidations as flush ops (to check the IOTLB apart from the flush-queue timer)",
      })
      .option('device', {
        type: 'string',
        array: true,
        describe: 'attach this PCI device (BDF) to the default domain that holds maps no dma:* event attributes (kernels before 6.12); repeatable',
      })
      .option('seed', numberOption('seed', SEED, { default: 1, describe: 'seed for synthesized access offsets' }))
      .example('$0 import nic.trace -o nic.arrows --synthesize-dma', 'a kernel trace of the iommu and dma tracepoints, with device accesses synthesized')
      .example('$0 import rec/qemu.log rec/guest.trace -o strict.arrows', "a QEMU VT-d log and the guest's trace merged (docs/qemu.md)")
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    if (!['auto', 'ftrace', 'perf'].includes(args.format)) throw new InputError(`Invalid option --format: expected auto, ftrace or perf, got ${args.format}`);
    for (const d of args.device ?? [])
      if (parseBdf(d) === undefined) throw new InputError(`Invalid option --device: expected a PCI address like 0000:03:00.0, got ${d}`);
    const { files, streams } = importInputs(args.files);
    const s = await withOutputFile(args.out, '.arrows', (file) =>
      importTrace(files, file, {
        format: args.format as 'auto' | 'ftrace' | 'perf',
        synthesizeDma: args.synthesizeDma ?? false,
        coherentRateHz: args.coherentRate,
        strict: args.strict ?? false,
        seed: args.seed,
        devices: (args.device ?? []).map((d) => formatBdf(parseBdf(d)!)),
        qemuFlushes: args.qemuFlushes ?? false,
        names: args.files.map((f) => (f === STDIO ? 'standard input' : f)),
        streams,
      }),
    );
    const lines: string[] = [];
    lines.push(
      `read ${s.lines.read} lines: ${s.lines.parsed} parsed, ${s.lines.read - s.lines.parsed} skipped${
        Object.keys(s.lines.skipped).length
          ? ` (${Object.entries(s.lines.skipped)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', ')})`
          : ''
      }`,
    );
    for (const b of s.firstBad) lines.push(`  unparsed ${b}`);
    if (Object.keys(s.otherEvents).length)
      lines.push(
        `other tracepoints skipped: ${Object.entries(s.otherEvents)
          .map(([k, v]) => `${printable(k)} ${v}`)
          .join(', ')}`,
      );
    if (s.sortedBackwardsTimestamps) lines.push(`${s.sortedBackwardsTimestamps} event(s) out of time order across CPUs were sorted`);
    const lost = lostLine(s.lost);
    if (lost) lines.push(lost);
    lines.push(attributionLine(s.attribution));
    const maps = s.kernelEvents.iommu_map ?? 0;
    if (s.mapOperations < maps) lines.push(`map operations: ${s.mapOperations} for ${maps} iommu:map events (scatter-gather maps: the map_more column)`);
    lines.push(`devices: ${s.devices.map((d) => `${printable(d.name)} (domain ${d.domain})`).join(', ') || 'none'}`);
    lines.push(...qemuLines(s.qemu));
    if (s.qemu) lines.push(`device accesses: ${s.qemu.translations} from the QEMU log`);
    else if (args.synthesizeDma) lines.push(synthesizedLine(s));
    else lines.push('no DMA events synthesized: the kernel cannot see device accesses, so hit rates need --synthesize-dma or device-side records');
    lines.push(`wrote ${s.events} events to ${args.out === STDIO ? 'standard output' : shownPath(args.out)}`);
    process.stderr.write(lines.join('\n') + '\n');
  },
};
