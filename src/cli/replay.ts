// `iommu-replay replay TRACE... [--config FILE] [--page-sizes SET] [--iotlb ENTRIESxWAYS] [--mode M] [--json FILE] [--report FILE]`
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { readConfigFile, resolveConfig, type ReplayConfig } from '../config/config.js';
import { expandSweep, type ShortForms } from '../config/sweep.js';
import { InputError } from '../errors.js';
import { ensureDir } from '../files.js';
import { parseByteSize } from '../config/limits.js';
import { PRESET_NAMES } from '../config/presets.js';
import { replayTrace } from '../run/run.js';
import { replayMarkdown, summaryTable } from '../report/markdown.js';
import { stableStringify } from '../json.js';
import { DOCS_EPILOGUE } from './options.js';
import { estimateRows, progressBar } from './progress.js';
import { STDIO, checkOneStdout, withStdinTraces, writeOutput } from './stdio.js';

interface Args {
  traces: string[];
  config?: string;
  pageSizes?: string | string[];
  iotlb?: string | string[];
  mode?: string | string[];
  json?: string;
  report?: string;
  maxTableMemory?: string;
  preset?: string;
}

/**
 * The configuration of one replay: the file's, with `--preset` (which wins
 * over the file's "preset") underneath its fields, and the short forms of
 * `sweep` (one value each) on top, parsed by the same code as a sweep's axes.
 */
export function loadConfig(file: string | undefined, shortForms: ShortForms = {}, preset?: string): ReplayConfig {
  const source = file ?? (preset === undefined ? '(defaults)' : '--preset');
  const raw = file === undefined ? {} : readConfigFile(file);
  if (raw.sweep !== undefined) throw new InputError(`Invalid config "${file}": sweep: a sweep runs with "iommu-replay sweep", not "replay"`);
  const withPreset = preset === undefined ? raw : { ...raw, preset };
  if (!shortForms.pageSizes && !shortForms.iotlb && !shortForms.mode) return resolveConfig(withPreset, source);
  return expandSweep(withPreset, shortForms, source)[0].config;
}

/** A short form given once: its one value as a list, for expandSweep. */
function single(name: string, value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new InputError(`Invalid option --${name}: replay takes one value, got ${value.length} (several values are a sweep: iommu-replay sweep)`);
  return [value];
}

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay <traces..>',
  describe: DESCRIBE.replay,
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, describe: 'Arrow trace files (.arrow or .arrows); - reads a stream from standard input' })
      .option('config', { type: 'string', describe: 'replay configuration (JSON, docs/configuration.md)' })
      .option('preset', { type: 'string', describe: `start from a real IOMMU's page sizes: ${PRESET_NAMES.join(', ')} (docs/presets.md)` })
      .option('page-sizes', { type: 'string', describe: 'page-size set, e.g. 4K+2M (also 4K,2M or 4K|2M); overrides the configuration' })
      .option('iotlb', { type: 'string', describe: 'IOTLB geometry ENTRIESxWAYS, e.g. 64x4 or 256xfull; overrides the configuration' })
      .option('mode', { type: 'string', describe: 'invalidation mode: strict or lazy; overrides the configuration' })
      .option('json', { type: 'string', describe: 'write the summary JSON here (- for standard output)' })
      .option('report', { type: 'string', describe: 'write the Markdown report here (- for standard output)' })
      .option('max-table-memory', { type: 'string', describe: 'stop when the model (page tables, domains, devices, TLBs) would hold more than this (default 1G)' })
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const mode = single('mode', args.mode);
    for (const m of mode ?? []) if (m !== 'strict' && m !== 'lazy') throw new InputError(`Invalid option --mode: expected strict or lazy, got '${m}'`);
    const config = loadConfig(args.config, { pageSizes: single('page-sizes', args.pageSizes), iotlb: single('iotlb', args.iotlb), mode }, args.preset);
    const maxTableBytes = args.maxTableMemory === undefined ? undefined : parseByteSize('max-table-memory', args.maxTableMemory);
    checkOneStdout({ json: args.json, report: args.report });
    // Output places are checked before the work, so that a bad one leaves no other file behind.
    for (const out of [args.json, args.report]) if (out && out !== STDIO) ensureDir(path.dirname(out));
    const summary = await withStdinTraces(args.traces, async (paths, relabel) => {
      const bar = progressBar(estimateRows(paths));
      let s;
      try {
        s = await replayTrace(paths, config, { maxTableBytes, onProgress: (n) => bar.update(n) });
      } finally {
        bar.stop();
      }
      return { ...s, trace: { ...s.trace, files: s.trace.files.map(relabel) } };
    });
    if (args.json) writeOutput(args.json, stableStringify(summary));
    if (args.report) writeOutput(args.report, replayMarkdown(summary));
    if (!args.json && !args.report) process.stdout.write(`${summaryTable(summary)}\n`);
  },
};
