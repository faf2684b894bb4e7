// `iommu-replay import FILE... -o TRACE [--format auto|ftrace|perf] [--synthesize-dma] [--strict]`
import type { CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import { attributionLine, importTrace } from '../import/convert.js';
import { SEED, numberOption } from './options.js';
import { STDIO, withOutputFile, withStdinTraces } from './stdio.js';

interface Args {
  files: string[];
  out: string;
  format: string;
  synthesizeDma?: boolean;
  coherentRate: number;
  strict?: boolean;
  seed: number;
}

export const importCommand: CommandModule<object, Args> = {
  command: 'import <files..>',
  describe: 'Turn Linux ftrace, trace-cmd report or perf script text of the iommu and dma tracepoints into a trace',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'trace text files; - reads standard input' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'output trace (.arrow or .arrows; - writes a stream to standard output)' })
      .option('format', { type: 'string', default: 'auto', describe: 'auto, ftrace (also trace-cmd report) or perf (perf script)' })
      .option('synthesize-dma', { type: 'boolean', describe: 'generate device accesses: each streaming mapping read/written once, coherent memory at --coherent-rate' })
      .option('coherent-rate', numberOption('coherent-rate', { expected: 'a non-negative number', min: 0 }, { default: 1000, describe: 'accesses per second to each coherent allocation (with --synthesize-dma)' }))
      .option('strict', { type: 'boolean', describe: 'any unparseable line is an error' })
      .option('seed', numberOption('seed', SEED, { default: 1, describe: 'seed for synthesized access offsets' })) as never,
  handler: async (args) => {
    if (!['auto', 'ftrace', 'perf'].includes(args.format)) throw new InputError(`Invalid option --format: expected auto, ftrace or perf, got ${args.format}`);
    const s = await withStdinTraces(args.files, (files) => withOutputFile(args.out, '.arrows', (file) => importTrace(files, file, {
      format: args.format as 'auto' | 'ftrace' | 'perf',
      synthesizeDma: args.synthesizeDma ?? false,
      coherentRateHz: args.coherentRate,
      strict: args.strict ?? false,
      seed: args.seed,
    })));
    const lines: string[] = [];
    lines.push(`read ${s.lines.read} lines: ${s.lines.parsed} parsed, ${s.lines.read - s.lines.parsed} skipped${Object.keys(s.lines.skipped).length ? ` (${Object.entries(s.lines.skipped).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`);
    for (const b of s.firstBad) lines.push(`  unparsed ${b}`);
    if (Object.keys(s.otherEvents).length) lines.push(`other tracepoints skipped: ${Object.entries(s.otherEvents).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (s.sortedBackwardsTimestamps) lines.push(`${s.sortedBackwardsTimestamps} event(s) out of time order across CPUs were sorted`);
    lines.push(attributionLine(s.attribution));
    lines.push(`devices: ${s.devices.map((d) => `${d.name} (domain ${d.domain})`).join(', ') || 'none'}`);
    if (args.synthesizeDma) lines.push(`synthesized DMA: ${s.synthesized.streaming} streaming, ${s.synthesized.coherent} coherent accesses`);
    else lines.push('no DMA events synthesized: the kernel cannot see device accesses, so hit rates need --synthesize-dma or device-side records');
    lines.push(`wrote ${s.events} events to ${args.out === STDIO ? 'standard output' : args.out}`);
    process.stderr.write(lines.join('\n') + '\n');
  },
};
