// `iommu-replay sweep TRACE... [--config FILE] [--page-sizes ...] [--iotlb ...] [--mode ...] [--vendor ...] [--out DIR] [--jobs N] [--resume] [--quiet]`
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { readConfigFile } from '../config/config.js';
import { expandSweep, fileNames, type SweepPoint } from '../config/sweep.js';
import { UnavailableError } from '../errors.js';
import { DEFAULT_MAX_POINTS } from '../config/limits.js';
import { PRESET_NAMES } from '../config/presets.js';
import { runSweep } from '../run/sweep.js';
import { resultsArrow, rowOf, withVariants, sweepMarkdown, type SweepRow } from '../report/compare.js';
import { stableStringify } from '../json.js';
import { parseSummary, type Summary } from '../stats/summary.js';
import { openTrace } from '../trace/merge.js';
import { DOCS_EPILOGUE, POSITIVE_INTEGER, numberOption } from './options.js';
import { estimateRows, progressBar } from './progress.js';
import { resumeKey, traceIdentity } from './resume.js';
import { OutputFolder } from './outdir.js';
import { MODES_OPTION, SHORT_FORM_DEFAULTS, configDefault, maxTableBytesOf, maxTableMemoryOption, vendorsOption } from './defaults.js';
import { printWarnings, summaryProblems, warningLines } from './warnings.js';
import { toolVersion } from '../version.js';
import type { QueueConnection } from '../run/queue-connection.js';
import { QUEUE_CA_OPTION, QUEUE_PASSWORD_FILE_OPTION, queueConnectionOf, type QueueArgs } from './queue-options.js';

interface Args extends QueueArgs {
  traces: string[];
  config?: string;
  pageSizes?: string[];
  iotlb?: string[];
  mode?: string[];
  vendor?: string[];
  out: string;
  jobs?: number;
  resume?: boolean;
  quiet?: boolean;
  maxTableMemory?: string;
  maxPoints?: number;
  preset?: string;
  queue?: string;
  queueLostAfter: number;
}

/**
 * The files of one sweep trace. `a.arrow+b.arrows` is one trace of two files,
 * merged by ts as replay merges them: the `+` counts only right after an
 * `.arrow` or `.arrows` extension, and only when no file has the whole name,
 * so that a real path with a `+` in it still names itself.
 */
export function traceGroup(arg: string): string[] {
  if (fs.existsSync(arg)) return [arg];
  const parts = arg.split(/(?<=\.arrows?)\+(?=.)/);
  return parts.length > 1 ? parts : [arg];
}

/** Short, unique names for traces: the file stems (joined by + for a group), else the argument as given. */
export function traceNames(args: string[]): string[] {
  const stems = args.map((a) =>
    traceGroup(a)
      .map((p) => path.basename(p).replace(/\.arrows?$/, ''))
      .join('+'),
  );
  return stems.map((s, i) => (stems.indexOf(s) === stems.lastIndexOf(s) ? s : args[i]));
}

/**
 * The traces' folders under summaries/: their names made safe as point file
 * names are (config/sweep.ts fileNames): never "..", ".", a "/" or a hidden
 * name, and still one per trace.
 */
export function traceFolderNames(names: string[]): string[] {
  return fileNames(names);
}

/** A summary as a sweep saves it: the replay's summary and the key --resume matches. */
type SavedSummary = Summary & { resumeKey?: string };

/** The summary saved at `file` when its key is `key`; undefined for anything else (absent, unreadable, foreign). */
function readSaved(file: string, key: string): Summary | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const s = parseSummary(fs.readFileSync(file, 'utf8')) as SavedSummary;
    if (s?.version === 1 && s.resumeKey === key && s.totals?.iotlb) return s;
  } catch {
    // unreadable: run the point again
  }
  return undefined;
}

export const sweepCommand: CommandModule<object, Args> = {
  command: 'sweep <traces..>',
  describe: DESCRIBE.sweep,
  builder: (y) =>
    y
      .positional('traces', {
        type: 'string',
        array: true,
        demandOption: true,
        default: undefined,
        describe: 'traces: each file is its own trace; a.arrows+b.arrows is one trace of two files',
      })
      .option('config', { type: 'string', describe: 'base configuration; its "sweep" field adds axes' })
      .option('preset', { type: 'string', describe: `start from a real IOMMU's page sizes: ${PRESET_NAMES.join(', ')} (docs/presets.md)` })
      .option('page-sizes', {
        type: 'string',
        array: true,
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.pageSizes),
        describe: 'page-size sets to try, e.g. 4K 4K+2M 4K+2M+1G (also 4K,2M or 4K|2M)',
      })
      .option('iotlb', {
        type: 'string',
        array: true,
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.iotlb),
        describe: 'IOTLB geometries ENTRIESxWAYS, e.g. 32x4 64x4 256xfull',
      })
      .option('mode', MODES_OPTION)
      .option('vendor', vendorsOption('point'))
      .option('out', { type: 'string', default: 'sweep-out', describe: 'output directory' })
      .option('jobs', { ...numberOption('jobs', POSITIVE_INTEGER, { describe: 'worker threads' }), defaultDescription: 'the number of cores' })
      .option('resume', { type: 'boolean', describe: 'reuse summaries of this very trace, configuration and tool version' })
      .option('quiet', { type: 'boolean', describe: 'no progress bar' })
      .option('max-table-memory', maxTableMemoryOption("a point's model"))
      .option('max-points', {
        ...numberOption('max-points', POSITIVE_INTEGER, { describe: 'refuse a sweep of more points than this' }),
        defaultDescription: String(DEFAULT_MAX_POINTS),
      })
      .option('queue', {
        type: 'string',
        describe: 'run the jobs on `iommu-replay worker` processes through Redis: redis://HOST:PORT[/DB] (docs/distributed.md)',
      })
      .option('queue-password-file', QUEUE_PASSWORD_FILE_OPTION)
      .option('queue-ca', QUEUE_CA_OPTION)
      .option('queue-lost-after', { type: 'number', default: 10, hidden: true, describe: 'seconds without Redis before a queued sweep gives up' })
      .example(
        '$0 sweep traces/nic.arrows traces/nvme.arrows --page-sizes 4K 4K,2M 4K,2M,1G --iotlb 32x4 64x4 --mode strict lazy --out reports/x',
        '3 x 2 x 2 points per trace; report.html, report.md, results.arrow and summaries/ in reports/x',
      )
      .example(
        '$0 sweep traces/gpu.arrows --config my.json --out reports/y --resume',
        'the axes of my.json\'s "sweep" field; points already computed are reused',
      )
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    const jobs = args.jobs ?? os.availableParallelism();
    const maxTableBytes = maxTableBytesOf(args.maxTableMemory);
    const maxPoints = args.maxPoints ?? DEFAULT_MAX_POINTS;
    const queue = await queueConnectionOf(args);
    const raw = { ...(args.config ? readConfigFile(args.config) : {}), ...(args.preset !== undefined ? { preset: args.preset } : {}) };
    const points = expandSweep(
      raw,
      { pageSizes: args.pageSizes, iotlb: args.iotlb, mode: args.mode, vendor: args.vendor },
      args.config ?? '(command line)',
      maxPoints,
    );
    const groups = args.traces.map(traceGroup);
    // Check every trace opens (schema, metadata) before any work starts.
    for (const g of groups) await (await openTrace(g)).close();
    const names = traceNames(args.traces);
    const folders = traceFolderNames(names);
    const identities = groups.map(traceIdentity);
    const keys = groups.map((_, t) => points.map((p) => resumeKey(identities[t], p.config)));
    const summaryParts = (t: number, p: number) => ['summaries', folders[t], `${points[p].slug}.json`];
    const summaryPath = (t: number, p: number) => path.join(args.out, ...summaryParts(t, p));

    // The folder is locked (one run writes into it at a time) before --resume reads it.
    const out = OutputFolder.open(args.out);
    let results: (Summary | undefined)[][];
    try {
      // Dense (not sparse) arrays: filter and flat skip holes, which would hide pending points.
      results = groups.map((_, t) => points.map((_, p) => (args.resume ? readSaved(summaryPath(t, p), keys[t][p]) : undefined)));
      await runPending(args, groups, points, results, { jobs, maxTableBytes, queue, queueLostAfterS: args.queueLostAfter }, (t, p, s) => {
        const saved: SavedSummary = { ...s, resumeKey: keys[t][p] };
        // Saved as soon as the point finishes: a stopped sweep leaves it for --resume.
        out.write(summaryParts(t, p), stableStringify(saved));
      });
      const plain: SweepRow[] = [];
      groups.forEach((_, t) => points.forEach((pt, p) => plain.push(rowOf(names[t], pt.label, results[t][p]!))));
      const rows = withVariants(plain);
      // The charts' libraries (vega, vega-lite) load only here: every other command starts without them.
      const { sweepHtml } = await import('../report/html.js');
      out.publish([
        ['results.arrow', resultsArrow(rows, points)],
        ['report.md', sweepMarkdown(rows, names)],
        ['report.html', await sweepHtml(rows, names)],
      ]);
    } catch (err) {
      // Redis lost mid-run: the summaries that arrived stay, complete, for --resume (docs/distributed.md).
      if (queue && err instanceof UnavailableError) out.release();
      else out.undo();
      throw err;
    }
    out.release();
    printWarnings(
      warningLines(
        groups.flatMap((_, t) => points.map((pt, p) => ({ what: `${names[t]} with ${pt.label}`, counts: summaryProblems(results[t][p]!.totals) }))),
        `see ${path.join(args.out, 'report.md')}`,
      ),
    );
    if (!args.quiet) process.stderr.write(`${names.length} trace(s) x ${points.length} point(s): ${path.join(args.out, 'report.html')}\n`);
  },
};

/** Runs the points without a summary yet, with a progress bar counting events x points, traces and points. */
async function runPending(
  args: Args,
  groups: string[][],
  points: SweepPoint[],
  results: (Summary | undefined)[][],
  run: { jobs: number; maxTableBytes?: number; queue?: QueueConnection; queueLostAfterS: number },
  save: (t: number, p: number, s: Summary) => void,
): Promise<void> {
  const pendingOf = (t: number) => results[t].filter((r) => r === undefined).length;
  const pendingPoints = groups.reduce((n, _, t) => n + pendingOf(t), 0);
  const pendingTraces = groups.filter((_, t) => pendingOf(t) > 0).length;
  const traceRows = groups.map(estimateRows);
  const estimate = groups.reduce((sum, _, t) => sum + traceRows[t] * pendingOf(t), 0);
  const bar = progressBar(pendingPoints > 0 ? estimate : 0, { quiet: args.quiet, unit: 'events x points' });
  let pointsDone = 0;
  let tracesDone = 0;
  let eventsDone = 0;
  const detail = () => `traces ${tracesDone}/${pendingTraces}, points ${pointsDone}/${pendingPoints} done`;
  try {
    // Queued, the same plan runs on `iommu-replay worker` processes; --jobs
    // splits each trace's points into that many jobs for the workers to share.
    const execute = run.queue ? (await import('../run/queue.js')).runSweepQueued : runSweep;
    await execute(
      groups,
      points.map((p) => p.config),
      {
        jobs: run.jobs,
        maxTableBytes: run.maxTableBytes,
        ...(run.queue ?? { url: '' }),
        lostAfterS: run.queueLostAfterS,
        version: toolVersion(),
        skip: (t, p) => results[t][p] !== undefined,
        onProgress: (n) => {
          eventsDone = n;
          bar.update(n, detail());
        },
        onResult: (t, p, s) => {
          results[t][p] = s;
          save(t, p, s);
          pointsDone++;
          if (pendingOf(t) === 0) tracesDone++;
          bar.update(eventsDone, detail());
        },
      },
    );
    bar.finish(detail());
  } finally {
    bar.stop();
  }
}
