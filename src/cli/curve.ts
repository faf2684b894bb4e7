// `iommu-replay curve TRACE... [--config FILE] [--page-sizes 4K 4K,2M ...] [--mode strict lazy] [--vendor vtd amd smmuv3] [--max-entries N] [--ways full|W] [--opt] [--max-groups G] [--policy lru|fifo|plru|random] [--out DIR] [--jobs N] [--quiet]`
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DESCRIBE } from './commands.js';
import { POLICIES, readConfigFile, type PolicyName } from '../config/config.js';
import { formatPageSizeSet } from '../config/pagesizes.js';
import { expandSweep } from '../config/sweep.js';
import { InputError } from '../errors.js';
import { MAX_CURVE_ENTRIES, checkCurveConfig, checkCurvePoints, curvePointsOf, type CurveResult } from '../run/curve.js';
import { runCurveTask, type CurveTask } from '../run/curve-worker.js';
import { runModule, runOnPool, unwrapInputError } from '../run/pool.js';
import type { WorkerInputError } from '../run/sweep-worker.js';
import { curvesArrow, curvesHtml, curvesMarkdown, curvesSummary, methodOf, mostFaults, type CurveOf } from '../report/curve.js';
import { CHART_WARM_UP_SIZES, ChartThread } from '../report/chart-thread.js';
import { stableStringify } from '../json.js';
import { openTrace } from '../trace/merge.js';
import { toolVersion } from '../version.js';
import { printable } from '../text.js';
import { traceNames } from './sweep.js';
import { QUEUE_CA_OPTION, QUEUE_PASSWORD_FILE_OPTION, queueConnectionOf, type QueueArgs } from './queue-options.js';
import { OutputFolder } from './outdir.js';
import { printWarnings, warningLines } from './warnings.js';
import { DOCS_EPILOGUE, POSITIVE_INTEGER, numberOption } from './options.js';
import { MODES_OPTION, SHORT_FORM_DEFAULTS, configDefault, maxTableBytesOf, maxTableMemoryOptionDescribed, vendorsOption } from './defaults.js';

interface Args extends QueueArgs {
  traces: string[];
  config?: string;
  pageSizes?: string[];
  mode?: string[];
  vendor?: string[];
  maxEntries: number;
  ways: string;
  opt?: boolean;
  maxGroups: number;
  policy?: string;
  out: string;
  jobs?: number;
  quiet?: boolean;
  queue?: string;
  queueLostAfter: number;
  maxTableMemory?: string;
}

/** Runs the tasks, over `jobs` threads when there are several; results in task order. */
async function runTasks(tasks: CurveTask[], jobs: number): Promise<CurveResult[][]> {
  if (jobs <= 1 || tasks.length <= 1) {
    const out: CurveResult[][] = [];
    for (const t of tasks) out.push(await runCurveTask(t));
    return out;
  }
  return runOnPool(runModule('curve-worker.js'), jobs, tasks, async (t, run) => unwrapInputError((await run(t)) as CurveResult[] | WorkerInputError));
}

/**
 * The tasks as queue jobs, each with the submitter's --max-table-memory: a
 * worker computes them under the lower of that and its own limit
 * (run/queue-job.ts checkJob), as it does sweep jobs. (The limit was once
 * left out, and a queued curve then ran under the worker's limit alone:
 * `curve --max-table-memory 1M --queue` replayed a trace that the same
 * curve run here refuses.)
 */
async function runQueued(tasks: CurveTask[], opts: Parameters<typeof import('../run/queue.js').runCurvesQueued>[1]): Promise<CurveResult[][]> {
  const { runCurvesQueued } = await import('../run/queue.js');
  return runCurvesQueued(tasks, opts);
}

export const curveCommand: CommandModule<object, Args> = {
  command: 'curve <traces..>',
  describe: DESCRIBE.curve,
  builder: (y) =>
    y
      .positional('traces', { type: 'string', array: true, demandOption: true, default: undefined, describe: 'traces (each file is its own trace)' })
      .option('config', { type: 'string', describe: 'base configuration (its iotlb geometry is what the curve varies)' })
      .option('page-sizes', {
        type: 'string',
        array: true,
        defaultDescription: configDefault(SHORT_FORM_DEFAULTS.pageSizes),
        describe: 'page-size sets, one curve each, e.g. 4K 4K,2M 4K,2M,1G',
      })
      .option('mode', MODES_OPTION)
      .option('vendor', vendorsOption('curve'))
      .option(
        'max-entries',
        numberOption(
          'max-entries',
          { expected: `an integer in 1..${MAX_CURVE_ENTRIES}`, integer: true, min: 1, max: MAX_CURVE_ENTRIES },
          { default: 4096, describe: 'the largest IOTLB size' },
        ),
      )
      .option('ways', { type: 'string', default: 'full', describe: 'full (every size 1..N) or W (W ways, every power-of-two number of sets)' })
      .option('opt', { type: 'boolean', describe: "add Belady's optimal replacement (the lower bound), fully associative" })
      .option(
        'max-groups',
        numberOption('max-groups', POSITIVE_INTEGER, {
          default: 64,
          describe: 'lru, full: at most this many replays of a trace when sizes part ways (stale hits); past it, sizes are marked approximate',
        }),
      )
      .option('policy', {
        type: 'string',
        describe: 'lru (exact stack profile); fifo, plru, random, flush-when-full are replayed as points',
        defaultDescription: "the configuration's iotlb.policy (lru)",
      })
      .option('out', { type: 'string', default: 'curve-out', describe: 'output directory' })
      .option('jobs', {
        ...numberOption('jobs', POSITIVE_INTEGER, { describe: 'worker threads, one curve (trace and point) each at a time' }),
        defaultDescription: 'the number of cores',
      })
      .option('quiet', { type: 'boolean', describe: 'no closing line on stderr' })
      .option(
        'max-table-memory',
        maxTableMemoryOptionDescribed(
          "stop when one curve's model (page tables, domains, devices, TLBs, the stack profiler, --opt's recorded lookups) would hold more than this; refused before any work when the points of all the run's curves (about 600 bytes a size and curve) would",
        ),
      )
      .option('queue', {
        type: 'string',
        describe: 'compute the curves on `iommu-replay worker` processes through Redis: redis://HOST:PORT[/DB] (docs/distributed.md)',
      })
      .option('queue-password-file', QUEUE_PASSWORD_FILE_OPTION)
      .option('queue-ca', QUEUE_CA_OPTION)
      .option('queue-lost-after', { type: 'number', default: 10, hidden: true, describe: 'seconds without Redis before a queued run gives up' })
      .example(
        '$0 curve traces/nic.arrows --page-sizes 4K 4K+2M --opt --out reach',
        'hit rate against IOTLB size 1..4096 for two page-size sets, with the optimal lower bound',
      )
      .epilogue(DOCS_EPILOGUE) as never,
  handler: async (args) => {
    // --max-entries, --max-groups and --jobs are checked as parsed (numberOption).
    const n = args.maxEntries;
    const jobs = args.jobs ?? os.availableParallelism();
    const ways = args.ways === 'full' ? 0 : Number(args.ways);
    if (!Number.isInteger(ways) || ways < 0 || ways > n)
      throw new InputError(`Invalid option --ways: expected full or an integer in 1..${n}, got ${args.ways}`);
    if (args.policy !== undefined && !(POLICIES as readonly string[]).includes(args.policy))
      throw new InputError(`Invalid option --policy: expected one of ${POLICIES.join(', ')}, got ${args.policy}`);
    if (args.opt && ways !== 0) throw new InputError('Invalid option --opt: OPT is computed for the fully associative curve (--ways full)');
    const maxTableBytes = maxTableBytesOf(args.maxTableMemory);
    const queue = await queueConnectionOf(args);
    const raw = args.config ? readConfigFile(args.config) : {};
    const points = expandSweep(raw, { pageSizes: args.pageSizes, mode: args.mode, vendor: args.vendor }, args.config ?? '(command line)');
    for (const p of points) checkCurveConfig(p.config, args.config);
    const policy = curvePolicyOf(args.policy as PolicyName | undefined, points, args.config);
    // Every curve's points are held together for the outputs: refused before any work when they would not fit.
    checkCurvePoints(
      args.traces.length * points.length * curvePointsOf(n, policy, ways, args.opt ?? false),
      `${args.traces.length * points.length * (args.opt ? 2 : 1)} curve(s) of 1..${n} entries`,
      maxTableBytes,
    );
    // The charts' libraries load and warm on a thread of their own while the curves are computed (report/chart-thread.ts).
    const charts = ChartThread.start(Math.min(n, CHART_WARM_UP_SIZES));
    try {
      await curveRun(args, { n, jobs, ways, policy, maxTableBytes, queue, points, charts });
    } finally {
      await charts.close();
    }
  },
};

/**
 * The replacement policy of the curves: --policy, else the configuration's
 * `iotlb.policy` (lru when it gives none). The curve sweeps the IOTLB's size,
 * not its policy, so the configuration's points must agree on it.
 */
function curvePolicyOf(option: PolicyName | undefined, points: ReturnType<typeof expandSweep>, source: string | undefined): PolicyName {
  if (option !== undefined) return option;
  const policies = [...new Set(points.map((p) => p.config.iotlb.policy))];
  if (policies.length > 1)
    throw new InputError(`Invalid config "${source}": iotlb.policy: a curve has one policy, the points give ${policies.join(', ')}; choose one with --policy`);
  return policies[0] ?? 'lru';
}

/** What the handler decided from the options. */
interface CurveRunPlan {
  n: number;
  jobs: number;
  ways: number;
  policy: PolicyName;
  maxTableBytes: number | undefined;
  queue: Awaited<ReturnType<typeof queueConnectionOf>>;
  points: ReturnType<typeof expandSweep>;
  charts: ChartThread;
}

/** The run after its options were checked: the traces opened, the curves computed and written. */
async function curveRun(args: Args, { n, jobs, ways, policy, maxTableBytes, queue, points, charts }: CurveRunPlan): Promise<void> {
  for (const t of args.traces) await (await openTrace([t])).close();
  // Locked before the work (one run writes into a folder at a time), published together after it.
  const out = OutputFolder.open(args.out);
  const names = traceNames(args.traces);
  const tasks: (CurveTask & { of: Omit<CurveOf, 'result'> })[] = args.traces.flatMap((trace, t) =>
    points.map((p) => ({
      trace,
      config: p.config,
      maxEntries: n,
      maxGroups: args.maxGroups,
      policy,
      ways,
      opt: args.opt ?? false,
      ...(maxTableBytes === undefined ? {} : { maxTableBytes }),
      of: { trace: names[t], pageSizes: formatPageSizeSet(p.config.pageSizes), mode: p.config.invalidation.mode, vendor: p.config.vendor },
    })),
  );
  const plain = tasks.map(({ of: _of, ...task }) => task);
  // Queued, each task is one job for the workers (run/queue.ts); the results are the same.
  const { curves, results } = await out.complete(async () => {
    const results: CurveResult[][] = queue
      ? await runQueued(plain, { ...queue, lostAfterS: args.queueLostAfter, version: toolVersion() })
      : await runTasks(plain, jobs);
    const curves: CurveOf[] = tasks.flatMap((t, i) => results[i].map((result) => ({ ...t.of, result })));
    // The charts are drawn on their thread while the other outputs are made here.
    const html = curvesHtml(curves, undefined, charts.render);
    html.catch(() => undefined); // awaited below: a failure before that leaves it handled
    const arrow = curvesArrow(curves);
    const summary = stableStringify(curvesSummary(curves, n));
    const markdown = curvesMarkdown(curves);
    out.publish([
      ['curves.arrow', arrow],
      ['curves.json', summary],
      ['report.md', markdown],
      ['report.html', await html],
    ]);
    return { curves, results };
  });
  // One line per trace and point, with the counts replay's line has: the DMA
  // events, maps, unmaps and attaches, which do not depend on the IOTLB size
  // (CurveResult.ops), and the most faults of any size.
  printWarnings(
    warningLines(
      tasks.map((t, i) => ({
        what: `${t.of.trace} with pageSizes=${t.of.pageSizes} invalidation.mode=${t.of.mode}${t.of.vendor === 'vtd' ? '' : ` vendor=${t.of.vendor}`}`,
        counts: { ...results[i][0].ops, faults: mostFaults(results[i]) },
      })),
      `see ${path.join(args.out, 'report.md')}`,
    ),
  );
  if (!args.quiet) {
    for (const c of curves)
      if (c.result.method === 'points' || c.result.approximate?.length)
        process.stderr.write(`${printable(c.trace, 200)} ${c.pageSizes} ${c.mode}${c.vendor === 'vtd' ? '' : ` ${c.vendor}`}: ${methodOf(c.result)}\n`);
    process.stderr.write(`${curves.length} curve(s): ${path.join(args.out, 'report.html')}\n`);
  }
}
