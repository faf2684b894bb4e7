// A queued job, run on one of `iommu-replay worker`'s threads (a pool of
// --concurrency threads, started with the worker and kept between jobs:
// queue.ts): check the job (its schema, the worker's limits, where its trace
// is: queue-job.ts), check that this machine's file is the submitter's, then
// replay it against the job's points (their summaries, as written to disk)
// or compute its curves (as JSON).
import { workerData, type MessagePort } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { stableStringify } from '../json.js';
import { printable } from '../text.js';
import { identityMismatch, traceIdentity } from './identity.js';
import { checkJob, checkTracePath, jobId, type JobData, type JobResult } from './queue-job.js';
import type { ProcessorData } from './queue.js';
import { runCurveTask } from './curve-worker.js';
import { replayTask, type WorkerInputError } from './sweep-worker.js';

/** Progress is posted to the worker's main thread (and so to Redis) at most this often (events). */
const PROGRESS_EVENTS = 1 << 20;

/** One job: its data as read from Redis, and a port for its progress (events done so far). */
export interface ProcessorTask {
  data: unknown;
  port: MessagePort;
}

/**
 * Nothing: run once on each thread as the worker starts, so that the thread
 * has loaded this module (and the replay's) before the worker says it waits
 * for jobs, and the first job does not pay for it.
 */
export function warm(): boolean {
  return true;
}

export default async function processJob(task: ProcessorTask): Promise<JobResult | WorkerInputError> {
  const { limits } = workerData as ProcessorData;
  try {
    // The key of the job as read from Redis: the submitter compares it with the job it asked for.
    // (Its depth was checked before it was cloned to this thread: queue.ts.)
    const key = jobId(task.data as JobData);
    const data = checkJob(task.data, limits);
    const paths = data.trace.map((file) => checkTracePath(file.path, limits.traceRoots));
    for (const file of data.trace) {
      // Only whether it differs: the failure is stored in Redis, where the file's size is nobody's business.
      if (identityMismatch(file, traceIdentity(file.path)))
        throw new InputError(`Trace "${printable(file.path, 200)}" on this worker is not the submitter's file (its size or content differ)`);
    }
    if (data.kind === 'curve') return { job: key, results: [JSON.stringify(await runCurveTask({ ...data.curve, trace: paths[0] }))] };
    let last = 0;
    const summaries = await replayTask(paths, data.configs, {
      maxTableBytes: data.maxTableBytes,
      onProgress: (n) => {
        if (n - last >= PROGRESS_EVENTS) {
          last = n;
          task.port.postMessage(n);
        }
      },
    });
    return { job: key, results: summaries.map((s) => stableStringify(s)) };
  } catch (err) {
    // Bad input fails the same way on every worker: the main thread fails it once, never retried.
    if (err instanceof InputError) return { inputError: err.message };
    throw err;
  } finally {
    task.port.close();
  }
}
