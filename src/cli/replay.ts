// `iommu-replay replay TRACE... [--config FILE] [--json FILE] [--report FILE]`
import type { CommandModule } from 'yargs';
import { readConfigFile, resolveConfig, type ReplayConfig } from '../config/config.js';
import { InputError } from '../errors.js';
import { parseByteSize } from '../config/limits.js';
import { PRESET_NAMES } from '../config/presets.js';
import { replayTrace } from '../model/run.js';
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../files.js';
import { replayMarkdown, summaryTable } from '../report/markdown.js';
import { stableStringify } from '../report/summary.js';

interface Args {
  traces: string[];
  config?: string;
  json?: string;
  report?: string;
  maxTableMemory?: string;
  preset?: string;
}

/** The configuration of a replay: the file's, with `--preset` (which wins over the file's "preset") underneath its fields. */
export function loadConfig(file: string | undefined, preset?: string): ReplayConfig {
  const withPreset = (raw: Record<string, unknown>) => (preset === undefined ? raw : { ...raw, preset });
  if (file === undefined) return resolveConfig(withPreset({}), preset === undefined ? '(defaults)' : '--preset');
  const raw = readConfigFile(file);
  if (raw.sweep !== undefined) throw new InputError(`Invalid config "${file}": sweep: a sweep runs with "iommu-replay sweep", not "replay"`);
  return resolveConfig(withPreset(raw), file);
}

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay <traces..>',
  describe: 'Replay a trace (several files merge by ts) through the IOMMU model',
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, describe: 'Arrow trace files (.arrow or .arrows)' })
      .option('config', { type: 'string', describe: 'replay configuration (JSON, spec/config.md)' })
      .option('preset', { type: 'string', describe: `start from a real IOMMU's page sizes: ${PRESET_NAMES.join(', ')} (docs/presets.md)` })
      .option('json', { type: 'string', describe: 'write the summary JSON here' })
      .option('report', { type: 'string', describe: 'write the Markdown report here' })
      .option('max-table-memory', { type: 'string', describe: 'stop when the page tables would need more than this (default 1G)' }) as never,
  handler: async (args) => {
    const config = loadConfig(args.config, args.preset);
    const maxTableBytes = args.maxTableMemory === undefined ? undefined : parseByteSize('max-table-memory', args.maxTableMemory);
    // Output places are checked before the work, so that a bad one leaves no other file behind.
    for (const out of [args.json, args.report]) if (out) ensureDir(path.dirname(out));
    const summary = await replayTrace(args.traces, config, { maxTableBytes });
    if (args.json) writeFileAtomic(args.json, stableStringify(summary));
    if (args.report) writeFileAtomic(args.report, replayMarkdown(summary));
    if (!args.json && !args.report) process.stdout.write(`${summaryTable(summary)}\n`);
  },
};
