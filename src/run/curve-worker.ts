// A curve worker thread: the curves of one trace and configuration point.
import type { PolicyName, ReplayConfig } from '../config/config.js';
import { InputError } from '../errors.js';
import { fileFeed, lruStackCurve, pointsCurve, type CurveResult } from './curve.js';
import { optCurve } from './opt.js';
import { openTrace } from '../trace/merge.js';
import type { WorkerInputError } from './sweep-worker.js';

export interface CurveTask {
  trace: string;
  config: ReplayConfig;
  maxEntries: number;
  maxGroups: number;
  policy: PolicyName;
  /** 0: fully associative. */
  ways: number;
  opt: boolean;
  /** Page-table memory of each of its replays, at most (a queue worker's --max-table-memory); default 1 GiB. */
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
  const feed = fileFeed([t.trace]);
  const nested = await hasNested(t.trace);
  if (nested && t.opt)
    throw new InputError(
      `Cannot bound "${t.trace}" with --opt: it has nested domains (two-stage walks), which the OPT bound does not model; run without --opt`,
    );
  const stack = t.policy === 'lru' && t.ways === 0 && !nested;
  const limits = { maxTableBytes: t.maxTableBytes };
  const main = stack
    ? await lruStackCurve(feed, t.config, t.maxEntries, t.maxGroups, limits)
    : await pointsCurve(feed, t.config, t.policy, t.ways, t.maxEntries, limits);
  return t.opt ? [main, await optCurve(feed, t.config, t.maxEntries, limits)] : [main];
}

export default async function curveTask(t: CurveTask): Promise<CurveResult[] | WorkerInputError> {
  try {
    return await runCurveTask(t);
  } catch (err) {
    if (err instanceof InputError) return { inputError: err.message };
    throw err;
  }
}
