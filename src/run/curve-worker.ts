// A curve worker thread: the curves of one trace and configuration point.
import type { PolicyName, ReplayConfig } from '../config/config.js';
import { InputError } from '../errors.js';
import { fileFeed, lruStackCurve, pointsCurve, type CurveResult } from './curve.js';
import { optCurve } from './opt.js';
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
}

/** The task's curve, then its OPT curve when asked for. */
export async function runCurveTask(t: CurveTask): Promise<CurveResult[]> {
  const feed = fileFeed([t.trace]);
  const main = t.policy === 'lru' && t.ways === 0 ? await lruStackCurve(feed, t.config, t.maxEntries, t.maxGroups) : await pointsCurve(feed, t.config, t.policy, t.ways, t.maxEntries);
  return t.opt ? [main, await optCurve(feed, t.config, t.maxEntries)] : [main];
}

export default async function curveTask(t: CurveTask): Promise<CurveResult[] | WorkerInputError> {
  try {
    return await runCurveTask(t);
  } catch (err) {
    if (err instanceof InputError) return { inputError: err.message };
    throw err;
  }
}
