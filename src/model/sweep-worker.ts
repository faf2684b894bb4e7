// A sweep worker thread: replays one trace against its share of the points.
import type { MessagePort } from 'node:worker_threads';
import type { ReplayConfig } from '../config/config.js';
import { replayPoints } from './run.js';

export default async function sweepTask(task: { trace: string; configs: ReplayConfig[]; port: MessagePort }) {
  let last = 0;
  try {
    return await replayPoints([task.trace], task.configs, {
      onProgress: (n) => {
        if (n - last >= 262144) {
          last = n;
          task.port.postMessage(n);
        }
      },
    });
  } finally {
    task.port.close();
  }
}
