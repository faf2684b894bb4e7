// A queued job, run in a sandboxed worker thread of `iommu-replay worker`:
// check the job (its schema, the worker's limits, where its trace is:
// queue-job.ts), check that this machine's file is the submitter's, then
// replay it against the job's points (their summaries, as written to disk)
// or compute its curves (as JSON).
import { workerData } from 'node:worker_threads';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { InputError } from '../errors.js';
import { stableStringify } from '../json.js';
import { printable } from '../text.js';
import { identityMismatch, traceIdentity } from './identity.js';
import { checkJob, checkJobDepth, checkTracePath, jobId, type JobData, type JobResult } from './queue-job.js';
import type { ProcessorData } from './queue.js';
import { runCurveTask } from './curve-worker.js';
import { replayPoints } from './run.js';

/** Progress is written to Redis at most this often (events). */
const PROGRESS_EVENTS = 1 << 20;

export default async function processJob(job: SandboxedJob<JobData, JobResult>): Promise<JobResult> {
  const { limits } = workerData as ProcessorData;
  try {
    // The key of the job as read from Redis: the submitter compares it with the job it asked for.
    checkJobDepth(job.data);
    const key = jobId(job.data);
    const data = checkJob(job.data, limits);
    const paths = data.trace.map((file) => checkTracePath(file.path, limits.traceRoots));
    for (const file of data.trace) {
      // Only whether it differs: the failure is stored in Redis, where the file's size is nobody's business.
      if (identityMismatch(file, traceIdentity(file.path)))
        throw new InputError(`Trace "${printable(file.path, 200)}" on this worker is not the submitter's file (its size or content differ)`);
    }
    if (data.kind === 'curve') return { job: key, results: [JSON.stringify(await runCurveTask({ ...data.curve, trace: paths[0] }))] };
    let last = 0;
    const summaries = await replayPoints(paths, data.configs, {
      maxTableBytes: data.maxTableBytes,
      onProgress: (n) => {
        if (n - last >= PROGRESS_EVENTS) {
          last = n;
          void job.updateProgress(n);
        }
      },
    });
    return { job: key, results: summaries.map((s) => stableStringify(s)) };
  } catch (err) {
    // Bad input fails the same way on every worker: fail once, never retry.
    if (err instanceof InputError) throw new UnrecoverableError(err.message);
    throw err;
  }
}
