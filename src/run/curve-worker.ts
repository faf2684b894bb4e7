// A curve worker thread: the curves of one trace and configuration point.
import type { PolicyName, ReplayConfig } from '../config/config.js';
import { InputError } from '../errors.js';
import { checkCurvePoints, curvePointsOf, fileFeed, lruStackCurve, pointsCurve, type CurveResult } from './curve.js';
import { optCurve } from './opt.js';
import { openTrace } from '../trace/merge.js';
import { namedLimitError, type WorkerInputError } from './sweep-worker.js';

export interface CurveTask {
  trace: string;
  config: ReplayConfig;
  maxEntries: number;
  maxGroups: number;
  policy: PolicyName;
  /** 0: fully associative. */
  ways: number;
  opt: boolean;
  /** --max-table-memory (default DEFAULT_MAX_TABLE_BYTES, 384 MiB): the task's points, checked before its replay (cli/curve.ts checks all the run's), and its model, stack profiler and --opt recording as they run; a queue worker puts in its own (run/queue-job.ts). */
  maxTableBytes?: number;
}

/** Whether the trace has nested domains (docs/model.md §8). */
async function hasNested(trace: string): Promise<boolean> {
  const t = await openTrace([trace]);
  try {
    return [...t.meta.domains.values()].includes('nested');
  } finally {
    await t.close();
  }
}

/**
 * The task's curve, then its OPT curve when asked for. The stack profiler
 * and OPT price a walk and tell a stale entry by one page table; a nested
 * domain's are two-dimensional (§8), so a trace with nested domains is
 * replayed as points instead (exact at every size it gives), and OPT says
 * it cannot bound it.
 */
export async function runCurveTask(t: CurveTask): Promise<CurveResult[]> {
  // Before any work, wherever the task runs (a thread or a queue worker).
  checkCurvePoints(curvePointsOf(t.maxEntries, t.policy, t.ways, t.opt), `the curve${t.opt ? 's' : ''} of 1..${t.maxEntries} entries`, t.maxTableBytes);
  const limits = t.maxTableBytes === undefined ? {} : { maxTableBytes: t.maxTableBytes };
  const feed = fileFeed([t.trace]);
  const nested = await hasNested(t.trace);
  if (nested && t.opt)
    throw new InputError(
      `Cannot bound "${t.trace}" with --opt: it has nested domains (two-stage walks), which the OPT bound does not model; run without --opt`,
    );
  const stack = t.policy === 'lru' && t.ways === 0 && !nested;
  try {
    const main = stack
      ? await lruStackCurve(feed, t.config, t.maxEntries, t.maxGroups, limits)
      : await pointsCurve(feed, t.config, t.policy, t.ways, t.maxEntries, limits);
    return t.opt ? [main, await optCurve(feed, t.config, t.maxEntries, limits)] : [main];
  } catch (err) {
    throw namedLimitError(err, [t.trace], [t.config]);
  }
}

export default async function curveTask(t: CurveTask): Promise<CurveResult[] | WorkerInputError> {
  try {
    return await runCurveTask(t);
  } catch (err) {
    if (err instanceof InputError) return { inputError: err.message };
    throw err;
  }
}
