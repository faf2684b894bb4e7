// Runs a sweep: every trace against every configuration point. A task decodes
// its trace once and feeds every batch to all its points (one decode, N
// models); tasks spread over --jobs worker threads. Each point is its own
// Replay, so results do not depend on how points are grouped.
import { MessageChannel } from 'node:worker_threads';
import type { ReplayConfig } from '../config/config.js';
import type { Summary } from '../stats/summary.js';
import type { ReplayLimits } from '../model/replay.js';
import { runModule, runOnPool, unwrapInputError } from './pool.js';
import { laneGroups } from './run.js';
import { replayTask, type WorkerInputError } from './sweep-worker.js';

export interface SweepTask {
  /** The files of one trace (several merge by ts, as in replay). */
  trace: string[];
  traceIndex: number;
  pointIndexes: number[];
}

export interface SweepRunOptions extends ReplayLimits {
  jobs: number;
  /** Points to leave out (e.g. --resume found their summary). */
  skip?: (traceIndex: number, pointIndex: number) => boolean;
  /** Events replayed so far, summed over points. */
  onProgress?: (eventsTimesPoints: number) => void;
  /** Called as each (trace, point) finishes. */
  onResult?: (traceIndex: number, pointIndex: number, summary: Summary) => void;
}

/**
 * Points per task at most. The points of a task finish together (at the end
 * of the trace), and a summary is saved as its task finishes: small tasks
 * leave finished points behind for --resume when a long sweep is stopped.
 * Each task decodes the trace again: on a 12-point sweep of a 1M-event NIC
 * trace with one job, 2 tasks cost about 8% more CPU than 1, and 3 tasks 16%.
 */
export const MAX_POINTS_PER_TASK = 6;

/**
 * Splits each trace's pending points into chunks: at least `jobs` of them,
 * at most MAX_POINTS_PER_TASK points each. With `groupOf` (a point's lane
 * group, run/run.ts laneGroups) the points are taken group by group, so that
 * the points of a group share tasks and run as lanes of one replay; each
 * task lists its points in order.
 */
export function planTasks(traces: string[][], nPoints: number, jobs: number, skip?: SweepRunOptions['skip'], groupOf?: (point: number) => number): SweepTask[] {
  const tasks: SweepTask[] = [];
  traces.forEach((trace, t) => {
    const pending = Array.from({ length: nPoints }, (_, p) => p).filter((p) => !skip?.(t, p));
    if (pending.length === 0) return;
    if (groupOf) pending.sort((a, b) => groupOf(a) - groupOf(b) || a - b);
    const chunks = Math.min(Math.max(1, jobs, Math.ceil(pending.length / MAX_POINTS_PER_TASK)), pending.length);
    const per = Math.ceil(pending.length / chunks);
    for (let i = 0; i < pending.length; i += per) tasks.push({ trace, traceIndex: t, pointIndexes: pending.slice(i, i + per).sort((a, b) => a - b) });
  });
  return tasks;
}

/** A point's lane group (its index in laneGroups), for planTasks. */
export function laneGroupOf(points: ReplayConfig[]): (point: number) => number {
  const group = new Int32Array(points.length);
  laneGroups(points).forEach((g, k) => g.forEach((p) => (group[p] = k)));
  return (p) => group[p];
}

export async function runSweep(traces: string[][], points: ReplayConfig[], opts: SweepRunOptions): Promise<void> {
  const tasks = planTasks(traces, points.length, opts.jobs, opts.skip, laneGroupOf(points));
  const progress = new Map<SweepTask, number>();
  const report = () => {
    let sum = 0;
    for (const v of progress.values()) sum += v;
    opts.onProgress?.(sum);
  };
  const finish = (task: SweepTask, summaries: Summary[]) => {
    summaries.forEach((s, k) => opts.onResult?.(task.traceIndex, task.pointIndexes[k], s));
  };
  if (opts.jobs <= 1 || tasks.length <= 1) {
    for (const task of tasks) {
      const configs = task.pointIndexes.map((p) => points[p]);
      const summaries = await replayTask(task.trace, configs, {
        maxTableBytes: opts.maxTableBytes,
        onProgress: (n) => {
          progress.set(task, n * configs.length);
          report();
        },
      });
      finish(task, summaries);
    }
    return;
  }
  await runOnPool(runModule('sweep-worker.js'), opts.jobs, tasks, async (task, run, aborted) => {
    const { port1, port2 } = new MessageChannel();
    const configs = task.pointIndexes.map((p) => points[p]);
    port1.on('message', (n: number) => {
      progress.set(task, n * configs.length);
      report();
    });
    try {
      const result = unwrapInputError(
        (await run({ trace: task.trace, configs, maxTableBytes: opts.maxTableBytes, port: port2 }, [port2])) as Summary[] | WorkerInputError,
      );
      if (!aborted()) finish(task, result);
    } finally {
      port1.close();
    }
  });
}
