// A sweep worker thread: replays one trace against its share of the points.
import type { MessagePort } from 'node:worker_threads';
import type { ReplayConfig } from '../config/config.js';
import { MemoryLimitError } from '../config/limits.js';
import { InputError } from '../errors.js';
import { replayPoints } from './run.js';
import { taskLimitMessage } from './sweep.js';

/** An input error crosses the thread boundary as data: error classes do not survive cloning. */
export interface WorkerInputError {
  inputError: string;
}

export default async function sweepTask(task: { trace: string[]; configs: ReplayConfig[]; maxTableBytes?: number; port: MessagePort }) {
  let last = 0;
  try {
    const summaries = await replayPoints(task.trace, task.configs, {
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
    if (err instanceof MemoryLimitError) return { inputError: taskLimitMessage(task.trace, task.configs, err.message) } satisfies WorkerInputError;
    if (err instanceof InputError) return { inputError: err.message } satisfies WorkerInputError;
    throw err;
  } finally {
    task.port.close();
  }
}
