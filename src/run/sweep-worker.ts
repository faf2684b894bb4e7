// A sweep worker thread: replays one trace against its share of the points.
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { ReplayConfig } from '../config/config.js';
import { MemoryLimitError } from '../config/limits.js';
import { InputError } from '../errors.js';
import { replayPoints, type RunOptions } from './run.js';
import type { Summary } from '../stats/summary.js';

/** An input error crosses the thread boundary as data: error classes do not survive cloning. */
export interface WorkerInputError {
  inputError: string;
}

/**
 * A sweep task's replay of `trace` against `configs`, on this thread or the
 * caller's (sweep.ts with --jobs 1). A limit it hits (--max-table-memory)
 * names a table ("the IOTLB of dmar0 needs about 34 MiB") but not which
 * trace and points the sweep was replaying: the error says so first. Here,
 * not in sweep.ts: the thread's module loads nothing beyond what it runs
 * (its load is what a failed sweep waits for before the pool goes,
 * run/pool.ts threadsLoaded).
 */
export async function replayTask(trace: string[], configs: ReplayConfig[], opts: RunOptions): Promise<Summary[]> {
  try {
    return await replayPoints(trace, configs, opts);
  } catch (err) {
    throw namedLimitError(err, trace, configs);
  }
}

/**
 * `err`, when it is a memory-limit error, as one that names the trace (its
 * files' names) and the points whose replay stopped; else `err` as it is.
 * The sweep's tasks (here, on a thread, with --jobs 1 and on a queue worker)
 * and the curve's (curve-worker.ts) say it so: a run of several traces or
 * points otherwise said only the row.
 */
export function namedLimitError(err: unknown, trace: string[], configs: ReplayConfig[]): unknown {
  if (!(err instanceof MemoryLimitError)) return err;
  const names = trace.map((f) => path.basename(f)).join('+');
  return new MemoryLimitError(`${names} with ${configs.map((c) => c.name).join(', ')}: ${err.message}`);
}

export default async function sweepTask(task: { trace: string[]; configs: ReplayConfig[]; maxTableBytes?: number; port: MessagePort }) {
  let last = 0;
  try {
    const summaries = await replayTask(task.trace, task.configs, {
      maxTableBytes: task.maxTableBytes,
      onProgress: (n) => {
        if (n - last >= 262144) {
          last = n;
          task.port.postMessage(n);
        }
      },
    });
    task.port.postMessage(summaries[0]?.trace.events ?? last); // the final count
    return summaries;
  } catch (err) {
    if (err instanceof InputError) return { inputError: err.message } satisfies WorkerInputError;
    throw err;
  } finally {
    task.port.close();
  }
}
