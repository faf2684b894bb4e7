// `iommu-replay sweep TRACE... [--config FILE] [--page-sizes ...] [--iotlb ...] [--mode ...] [--out DIR] [--jobs N] [--resume] [--quiet]`
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { readConfigFile } from '../config/config.js';
import { expandSweep } from '../config/sweep.js';
import { InputError } from '../errors.js';
import { runSweep } from '../run/sweep.js';
import { ensureDir, writeFileAtomic } from '../files.js';
import { resultsArrow, rowOf, sweepMarkdown, type SweepRow } from '../report/compare.js';
import { sweepHtml } from '../report/html.js';
import { stableStringify, type Summary } from '../stats/summary.js';
import { openTrace } from '../trace/merge.js';
import { progressBar } from './progress.js';
import { TOOL_VERSION } from '../version.js';

interface Args {
  traces: string[];
  config?: string;
  pageSizes?: string[];
  iotlb?: string[];
  mode?: string[];
  out: string;
  jobs?: number;
  resume?: boolean;
  quiet?: boolean;
  queue?: string;
  queueLostAfter: number;
}

/** Short, unique names for traces: the file stem, else the path. */
export function traceNames(paths: string[]): string[] {
  const stems = paths.map((p) => path.basename(p).replace(/\.arrows?$/, ''));
  return stems.map((s, i) => (stems.indexOf(s) === stems.lastIndexOf(s) ? s : paths[i]));
}

const BYTES_PER_ROW = 45; // for the progress estimate only

export const sweepCommand: CommandModule<object, Args> = {
  command: 'sweep <traces..>',
  describe: 'Replay every trace against every configuration point and compare them',
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, describe: 'traces (each file is its own trace)' })
      .option('config', { type: 'string', describe: 'base configuration; its "sweep" field adds axes' })
      .option('page-sizes', { type: 'string', array: true, describe: 'page-size sets to try, e.g. 4K 4K,2M 4K,2M,1G' })
      .option('iotlb', { type: 'string', array: true, describe: 'IOTLB geometries ENTRIESxWAYS, e.g. 32x4 64x4 256xfull' })
      .option('mode', { type: 'string', array: true, describe: 'invalidation modes: strict lazy' })
      .option('out', { type: 'string', default: 'sweep-out', describe: 'output directory' })
      .option('jobs', { type: 'number', describe: 'worker threads (default: the number of cores)' })
      .option('resume', { type: 'boolean', describe: 'skip points whose summary already exists' })
      .option('quiet', { type: 'boolean', describe: 'no progress bar' })
      .option('queue', { type: 'string', describe: 'run the jobs on `iommu-replay worker` processes through Redis: redis://HOST:PORT[/DB]' })
      .option('queue-lost-after', { type: 'number', default: 10, hidden: true, describe: 'seconds without Redis before a queued sweep gives up' }) as never,
  handler: async (args) => {
    const jobs = args.jobs ?? os.availableParallelism();
    if (!Number.isInteger(jobs) || jobs < 1) throw new InputError(`Invalid option --jobs: expected a positive integer, got ${args.jobs}`);
    for (const m of args.mode ?? []) if (m !== 'strict' && m !== 'lazy') throw new InputError(`Invalid --mode value "${m}": expected strict or lazy`);
    const raw = args.config ? readConfigFile(args.config) : {};
    const points = expandSweep(raw, { pageSizes: args.pageSizes, iotlb: args.iotlb, mode: args.mode }, args.config ?? '(command line)');
    // Check every trace opens (schema, metadata) before any work starts.
    for (const t of args.traces) await (await openTrace([t])).close();
    ensureDir(args.out);
    const names = traceNames(args.traces);
    const summaryPath = (t: number, p: number) => path.join(args.out, 'summaries', names[t].replace(/[/\\]/g, '_'), `${points[p].slug}.json`);
    // Dense (not sparse) arrays: filter and flat skip holes, which would hide pending points.
    const results: (Summary | undefined)[][] = args.traces.map(() => Array.from({ length: points.length }, () => undefined));
    if (args.resume) {
      args.traces.forEach((_, t) => points.forEach((_, p) => {
        const f = summaryPath(t, p);
        if (!fs.existsSync(f)) return;
        try {
          const s = JSON.parse(fs.readFileSync(f, 'utf8')) as Summary;
          // Only a complete summary of this very point counts; anything else runs again.
          if (s?.version === 1 && s.totals?.iotlb && s.config?.name === points[p].config.name) results[t][p] = s;
        } catch {
          // unreadable: run the point again
        }
      }));
    }
    const pending = results.flat().length - results.flat().filter(Boolean).length;
    const estimate = args.traces.reduce((sum, t, i) => sum + (fs.statSync(t).size / BYTES_PER_ROW) * results[i].filter((r) => !r).length, 0);
    const bar = progressBar(pending > 0 ? estimate : 0, args.quiet ?? false);
    try {
      // Queued, the plan splits each trace's points into --jobs jobs (default: the local cores) for the workers to share.
      const run = args.queue ? (await import('../run/queue.js')).runSweepQueued : runSweep;
      await run(args.traces, points.map((p) => p.config), {
        url: args.queue ?? '',
        lostAfterS: args.queueLostAfter,
        version: TOOL_VERSION,
        jobs,
        skip: (t, p) => results[t][p] !== undefined,
        onProgress: (n) => bar.update(n),
        onResult: (t, p, s) => {
          results[t][p] = s;
          writeFileAtomic(summaryPath(t, p), stableStringify(s));
        },
      });
    } finally {
      bar.stop();
    }
    const rows: SweepRow[] = [];
    args.traces.forEach((_, t) => points.forEach((pt, p) => rows.push(rowOf(names[t], pt.label, results[t][p]!))));
    writeFileAtomic(path.join(args.out, 'results.arrow'), resultsArrow(rows));
    writeFileAtomic(path.join(args.out, 'report.md'), sweepMarkdown(rows, names));
    writeFileAtomic(path.join(args.out, 'report.html'), await sweepHtml(rows, names));
    if (!args.quiet) process.stderr.write(`${names.length} trace(s) x ${points.length} point(s): ${path.join(args.out, 'report.html')}\n`);
  },
};
