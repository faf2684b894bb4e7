// A queued job, run in a sandboxed worker thread of `iommu-replay worker`:
// check that this machine's file is the submitter's, then replay it against
// the job's points (their summaries, as written to disk) or compute its
// curves (as JSON).
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { InputError } from '../errors.js';
import { stableStringify } from '../json.js';
import { identityMismatch, traceIdentity } from './identity.js';
import type { JobData, JobResult } from './queue.js';
import { runCurveTask } from './curve-worker.js';
import { replayPoints } from './run.js';

/** Progress is written to Redis at most this often (events). */
const PROGRESS_EVENTS = 1 << 20;

export default async function processJob(job: SandboxedJob<JobData, JobResult>): Promise<JobResult> {
  const data = job.data;
  const trace = data.trace;
  try {
    for (const file of trace) {
      const mismatch = identityMismatch(file, traceIdentity(file.path));
      if (mismatch) throw new InputError(`Trace "${file.path}" on this worker is not the submitter's: ${mismatch}`);
    }
    if (data.kind === 'curve') return [JSON.stringify(await runCurveTask({ ...data.curve, trace: trace[0].path }))];
    const { configs, maxTableBytes } = data;
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
