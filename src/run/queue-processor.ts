// A queued job, run in a sandboxed worker thread of `iommu-replay worker`:
// check that this machine's file is the submitter's, replay it against the
// job's points, return the summaries as they are written to disk.
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { InputError } from '../errors.js';
import { stableStringify } from '../stats/summary.js';
import { identityMismatch, traceIdentity } from './identity.js';
import type { JobData, JobResult } from './queue.js';
import { replayPoints } from './run.js';

/** Progress is written to Redis at most this often (events). */
const PROGRESS_EVENTS = 1 << 20;

export default async function processJob(job: SandboxedJob<JobData, JobResult>): Promise<JobResult> {
  const { trace, configs, maxTableBytes } = job.data;
  try {
    for (const file of trace) {
      const mismatch = identityMismatch(file, traceIdentity(file.path));
      if (mismatch) throw new InputError(`Trace "${file.path}" on this worker is not the submitter's: ${mismatch}`);
    }
    let last = 0;
    const summaries = await replayPoints(trace.map((f) => f.path), configs, {
      maxTableBytes,
      onProgress: (n) => {
        if (n - last >= PROGRESS_EVENTS) {
          last = n;
          void job.updateProgress(n);
        }
      },
    });
    return summaries.map((s) => stableStringify(s));
  } catch (err) {
    // Bad input fails the same way on every worker: fail once, never retry.
    if (err instanceof InputError) throw new UnrecoverableError(err.message);
    throw err;
  }
}
