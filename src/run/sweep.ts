// Runs a sweep: every trace against every configuration point. A task decodes
// its trace once and feeds every batch to all its points (one decode, N
// models); tasks spread over --jobs worker threads. Each point is its own
// Replay, so results do not depend on how points are grouped.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ReplayConfig } from '../config/config.js';
import type { Summary } from '../stats/summary.js';
import { InputError } from '../errors.js';
import { replayPoints } from './run.js';
import type { WorkerInputError } from './sweep-worker.js';

export interface SweepTask {
  trace: string;
  traceIndex: number;
  pointIndexes: number[];
}

export interface SweepRunOptions {
  jobs: number;
  /** Points to leave out (e.g. --resume found their summary). */
  skip?: (traceIndex: number, pointIndex: number) => boolean;
  /** Events replayed so far, summed over points. */
  onProgress?: (eventsTimesPoints: number) => void;
  /** Called as each (trace, point) finishes. */
  onResult?: (traceIndex: number, pointIndex: number, summary: Summary) => void;
}

/** Splits each trace's pending points into at most `jobs` contiguous chunks. */
export function planTasks(traces: string[], nPoints: number, jobs: number, skip?: SweepRunOptions['skip']): SweepTask[] {
  const tasks: SweepTask[] = [];
  traces.forEach((trace, t) => {
    const pending = Array.from({ length: nPoints }, (_, p) => p).filter((p) => !skip?.(t, p));
    if (pending.length === 0) return;
    const chunks = Math.min(Math.max(1, jobs), pending.length);
    const per = Math.ceil(pending.length / chunks);
    for (let i = 0; i < pending.length; i += per) tasks.push({ trace, traceIndex: t, pointIndexes: pending.slice(i, i + per) });
  });
  return tasks;
}

function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  // Under the test runner this module is TypeScript; the worker runs the build.
  return here.endsWith('.ts') ? path.resolve('dist/src/run/sweep-worker.js') : path.join(path.dirname(here), 'sweep-worker.js');
}

export async function runSweep(traces: string[], points: ReplayConfig[], opts: SweepRunOptions): Promise<void> {
  const tasks = planTasks(traces, points.length, opts.jobs, opts.skip);
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
      const summaries = await replayPoints([task.trace], configs, {
        onProgress: (n) => {
          progress.set(task, n * configs.length);
          report();
        },
      });
      finish(task, summaries);
    }
    return;
  }
  const pool = new Piscina({ filename: workerFile(), minThreads: 0, maxThreads: opts.jobs, idleTimeout: 100 });
  try {
    await Promise.all(
      tasks.map(async (task) => {
        const { port1, port2 } = new MessageChannel();
        const configs = task.pointIndexes.map((p) => points[p]);
        port1.on('message', (n: number) => {
          progress.set(task, n * configs.length);
          report();
        });
        try {
          const result = (await pool.run({ trace: task.trace, configs, port: port2 }, { transferList: [port2] })) as Summary[] | WorkerInputError;
          if (!Array.isArray(result)) throw new InputError(result.inputError);
          finish(task, result);
        } finally {
          port1.close();
        }
      }),
    );
  } finally {
    await pool.destroy();
  }
}
