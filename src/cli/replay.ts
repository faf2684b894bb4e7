// `iommu-replay replay TRACE... [--config FILE] [--page-sizes SET] [--iotlb ENTRIESxWAYS] [--mode M] [--vendor V] [--json FILE] [--report FILE]`
import fs from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { VENDORS, readConfigFile, resolveConfig, type ReplayConfig } from '../config/config.js';
import { expandSweep, type ShortForms } from '../config/sweep.js';
import { InputError } from '../errors.js';
import { ensureDir } from '../files.js';
import { PRESET_NAMES } from '../config/presets.js';
import { formatPageSizeSet, parseSizeLog2, splitPageSizeList } from '../config/pagesizes.js';
import { printable } from '../text.js';
import { replayTrace } from '../run/run.js';
import { replayMarkdown, summaryNotes, summaryTable } from '../report/markdown.js';
import type { Summary } from '../stats/summary.js';
import { stableStringify } from '../json.js';
import { DOCS_EPILOGUE } from './options.js';
import { SHORT_FORM_DEFAULTS, VENDOR_DEFAULT, configDefault, maxTableBytesOf, maxTableMemoryOption } from './defaults.js';
import { estimateRows, progressBar, type Progress } from './progress.js';
import { printWarnings, summaryProblems, warningLines } from './warnings.js';
import { STDIO, checkOneStdout, withStdinTraces, writeOutput } from './stdio.js';

interface Args {
  traces: string[];
  config?: string;
  pageSizes?: string | string[];
  iotlb?: string | string[];
  mode?: string | string[];
  vendor?: string | string[];
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
  if (!shortForms.pageSizes && !shortForms.iotlb && !shortForms.mode && !shortForms.vendor) return resolveConfig(withPreset, source);
  return expandSweep(withPreset, shortForms, source)[0].config;
}

/** A short form given once: its one value as a list, for expandSweep. */
function single(name: string, value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value))
    throw new InputError(`Invalid option --${name}: replay takes one value, got ${value.length} (several values are a sweep: iommu-replay sweep)`);
  return [value];
}

/** The option whose value `word` could be, when the option was given: "--mode" for "lazy". */
function optionTaking(word: string, shortForms: ShortForms): string | undefined {
  if (shortForms.mode && (word === 'strict' || word === 'lazy')) return '--mode';
  if (shortForms.vendor && (VENDORS as readonly string[]).includes(word)) return '--vendor';
  if (shortForms.iotlb && /^\d+x(\d+|full)$/i.test(word)) return '--iotlb';
  if (
    shortForms.pageSizes &&
    splitPageSizeList(word).length > 0 &&
    splitPageSizeList(word).every((t) => parseSizeLog2(t) !== undefined || /^0x[0-9a-f]+$/i.test(t))
  )
    return '--page-sizes';
  return undefined;
}

/**
 * `replay t.arrows --mode strict lazy`: the parser gives "lazy" to the traces
 * (an option of replay takes one value). A trace that is no file but is a
 * value of an option the line gave is that mistake: said so, with the
 * command that takes several values.
 */
function checkStrayValues(traces: string[], shortForms: ShortForms): void {
  for (const t of traces) {
    if (t === STDIO || fs.existsSync(t)) continue;
    const option = optionTaking(t, shortForms);
    if (option)
      throw new InputError(
        `Invalid option ${option}: replay takes one value per option, and '${printable(t)}' after it is no trace file (several values are a sweep: iommu-replay sweep TRACE... ${option} ${(option === '--mode' ? shortForms.mode : option === '--vendor' ? shortForms.vendor : option === '--iotlb' ? shortForms.iotlb : shortForms.pageSizes)![0]} ${printable(t)})`,
      );
  }
}

/** Whether `--report` names an HTML file (contract report.md: "Markdown or HTML by extension"); standard output takes Markdown. */
function isHtmlPath(file: string): boolean {
  return file !== STDIO && /\.html?$/i.test(file);
}

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay <traces..>',
  describe: DESCRIBE.replay,
  builder: (y) =>
    y
      .positional('traces', {
        type: 'string',
        array: true,
        demandOption: true,
        default: undefined,
        describe: 'Arrow trace files (.arrow or .arrows); - reads a stream from standard input',
      })
      .option('config', { type: 'string', describe: 'replay configuration (JSON, docs/configuration.md)' })
      .option('preset', { type: 'string', describe: `start from a real IOMMU's page sizes: ${PRESET_NAMES.join(', ')} (docs/presets.md)` })
      .option('page-sizes', {
        type: 'string',
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.pageSizes),
        describe: 'page-size set, e.g. 4K+2M (also 4K,2M or 4K|2M); overrides the configuration',
      })
      .option('iotlb', {
        type: 'string',
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.iotlb),
        describe: 'IOTLB geometry ENTRIESxWAYS, e.g. 64x4 or 256xfull; overrides the configuration',
      })
      .option('mode', {
        type: 'string',
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.mode),
        describe: 'invalidation mode: strict or lazy; overrides the configuration',
      })
      .option('vendor', {
        type: 'string',
        defaultDescription: VENDOR_DEFAULT,
        describe: `whose IOMMU rules: ${VENDORS.join(', ')} (docs/model.md §9); overrides the configuration and its preset`,
      })
      .option('json', { type: 'string', describe: 'write the summary JSON here (- for standard output)' })
      .option('report', {
        type: 'string',
        describe: 'write the report here: HTML when FILE ends in .html or .htm, else Markdown (- for standard output, Markdown)',
      })
      .option('max-table-memory', maxTableMemoryOption('the model'))
      .example('$0 replay traces/nic.arrows', 'the summary table, default configuration')
      .example(
        '$0 replay traces/nic.arrows --page-sizes 4K+2M --iotlb 128x8 --mode lazy --report nic.md',
        'one configuration from the command line, the Markdown report to a file',
      )
      .example('$0 replay dma.arrows maps.arrows --config my.json --json -', 'two files merged by ts as one trace; the summary JSON on standard output')
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const shortForms = {
      pageSizes: single('page-sizes', args.pageSizes),
      iotlb: single('iotlb', args.iotlb),
      mode: single('mode', args.mode),
      vendor: single('vendor', args.vendor),
    };
    checkStrayValues(args.traces, shortForms);
    const config = loadConfig(args.config, shortForms, args.preset);
    const maxTableBytes = maxTableBytesOf(args.maxTableMemory);
    checkOneStdout({ json: args.json, report: args.report });
    // Output places are checked before the work, so that a bad one leaves no other file behind.
    for (const out of [args.json, args.report]) if (out && out !== STDIO) ensureDir(path.dirname(out));
    const summary = await withStdinTraces(args.traces, async (paths, relabel) => {
      // The bar starts with the first batch, once the replay has opened every
      // file (schema, metadata, framing): a trace that cannot be read is its
      // one line with no bar drawn before it, and the trace is opened once,
      // not once to check it and again to replay it.
      let bar: Progress | undefined;
      let s;
      try {
        s = await replayTrace(paths, config, { maxTableBytes, onProgress: (n) => (bar ??= progressBar(estimateRows(paths))).update(n) });
        bar?.finish();
      } finally {
        bar?.stop();
      }
      return { ...s, trace: { ...s.trace, files: s.trace.files.map(relabel) } };
    });
    const where = args.report ? 'see the report' : 'replay --report FILE shows the counts';
    printWarnings(
      warningLines(
        [{ what: `${summary.trace.files.join('+')} with page sizes ${formatPageSizeSet(summary.config.pageSizes)}`, counts: summaryProblems(summary.totals) }],
        where,
      ),
    );
    if (args.json) writeOutput(args.json, summaryJson(summary));
    if (args.report)
      writeOutput(args.report, isHtmlPath(args.report) ? (await import('../report/replay-html.js')).replayHtml(summary) : replayMarkdown(summary));
    if (!args.json && !args.report) process.stdout.write(`${[summaryTable(summary, true), ...summaryNotes(summary).map((n) => `\n> ${n}`)].join('\n')}\n`);
  },
};

/**
 * The summary as JSON text, or one line when it is larger than a JavaScript
 * string can hold (about 512 MiB: a valid trace of a million devices makes
 * one row per device), instead of V8's RangeError and a stack trace.
 */
export function summaryJson(summary: Summary): string {
  try {
    return stableStringify(summary);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new InputError(
      `Cannot write the summary as JSON: with ${summary.byDevice.length.toLocaleString('en-US')} devices and ${summary.byDomain.length.toLocaleString('en-US')} domains it is larger than the 512 MiB a JSON text can be here; the totals are in the table without --json, or split the trace`,
    );
  }
}
