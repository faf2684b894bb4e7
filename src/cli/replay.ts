// `iommu-replay replay TRACE... [--config FILE] [--json FILE] [--report FILE]`
import type { CommandModule } from 'yargs';
import { readConfigFile, resolveConfig, type ReplayConfig } from '../config/config.js';
import { InputError } from '../errors.js';
import { replayTrace } from '../run/run.js';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../files.js';
import { replayMarkdown, summaryTable } from '../report/markdown.js';
import { stableStringify } from '../stats/summary.js';

interface Args {
  traces: string[];
  config?: string;
  json?: string;
  report?: string;
}

export function loadConfig(file: string | undefined): ReplayConfig {
  if (file === undefined) return resolveConfig({}, '(defaults)');
  const raw = readConfigFile(file);
  if (raw.sweep !== undefined) throw new InputError(`Invalid config "${file}": sweep: a sweep runs with "iommu-replay sweep", not "replay"`);
  return resolveConfig(raw, file);
}

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay <traces..>',
  describe: 'Replay a trace (several files merge by ts) through the IOMMU model',
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, describe: 'Arrow trace files (.arrow or .arrows)' })
      .option('config', { type: 'string', describe: 'replay configuration (JSON, spec/config.md)' })
      .option('json', { type: 'string', describe: 'write the summary JSON here' })
      .option('report', { type: 'string', describe: 'write the Markdown report here' }) as never,
  handler: async (args) => {
    const config = loadConfig(args.config);
    // Output places are checked before the work, so that a bad one leaves no other file behind.
    for (const out of [args.json, args.report]) if (out) ensureDir(path.dirname(out));
    const summary = await replayTrace(args.traces, config);
    if (args.json) writeFileAtomic(args.json, stableStringify(summary));
    if (args.report) writeFileAtomic(args.report, replayMarkdown(summary));
    if (!args.json && !args.report) process.stdout.write(`${summaryTable(summary)}\n`);
  },
};
