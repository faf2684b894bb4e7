// A queued job, run on one of `iommu-replay worker`'s threads (a pool of
// --concurrency threads, started with the worker and kept between jobs:
// queue.ts): check the job (its schema, the worker's limits, where its trace
// is: queue-job.ts), check that this machine's file is the submitter's, then
// replay it against the job's points (their summaries, as written to disk)
// or compute its curves (as JSON).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { resolveConfig, type ReplayConfig } from '../config/config.js';
import { DEFAULT_OPTIONS, generate } from '../workloads/index.js';
import { nic } from '../workloads/nic.js';
import { InputError } from '../errors.js';
import { stableStringify } from '../json.js';
import { printable } from '../text.js';
import { identityMismatch, traceIdentity } from './identity.js';
import { checkJob, checkTracePath, jobId, versionMatches, type JobData, type JobResult } from './queue-job.js';
import { toolVersion } from '../version.js';
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
 * Run once on each thread as the worker starts, before the worker says it
 * waits for jobs: the thread loads this module (and the replay's), then
 * replays a small generated trace against a few points (warmUpPoints), so
 * that V8 has compiled the reader, the batch loop, map and unmap, the
 * invalidations and the DMA runs they share with every job's replay. A
 * worker's first job then runs as its later ones do, instead of paying the
 * compilation while the job runs (issue 28: with two workers on 2 cores each
 * compiled in its first job with no idle core to do it on, and the bench's
 * 12-point sweep ran 1.45-1.73x as fast as on one worker; 1.74-1.89x so).
 * The trace is written to the system's temporary folder and removed; where
 * it cannot be written the worker starts without the warm-up. Nothing of it
 * reaches a job: replays share compiled code only (model/specialize.ts).
 */
export async function warm(): Promise<boolean> {
  try {
    await warmUp();
  } catch {
    // Only a warm-up (a full disk, say): the jobs work without it.
  }
  return true;
}

/** warm's replay: the events it replayed, 0 when it could not write its trace. */
export async function warmUp(): Promise<number> {
  let dir: string | undefined;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-replay-warm-'));
  } catch {
    return 0;
  }
  try {
    const file = path.join(dir, 'warm.arrows');
    await generate(nic, file, { ...DEFAULT_OPTIONS, events: WARM_UP_EVENTS });
    const summaries = await replayTask([file], warmUpPoints(), {});
    return summaries[0].trace.events;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Events of the warm-up trace: enough that the replay's loops are optimized. */
const WARM_UP_EVENTS = 60_000;

/** The warm-up's points: the three x86 bitmaps, strict, each with two IOTLB lanes, and the default lazy. */
function warmUpPoints(): ReplayConfig[] {
  const points = ['4K', '4K,2M', '4K,2M,1G'].flatMap((ps) =>
    [64, 256].map((entries) => resolveConfig({ pageSizes: ps.split(','), iotlb: { entries, ways: 4 } })),
  );
  return [...points, resolveConfig({ invalidation: { mode: 'lazy' } })];
}

export default async function processJob(task: ProcessorTask): Promise<JobResult | WorkerInputError> {
  const { limits } = workerData as ProcessorData;
  try {
    // The key of the job as read from Redis: the submitter compares it with the job it asked for.
    // (Its depth was checked before it was cloned to this thread: queue.ts.)
    const key = jobId(task.data as JobData);
    const data = checkJob(task.data, limits);
    const own = toolVersion();
    if (!versionMatches(data.version, own))
      throw new InputError(
        `This worker runs iommu-replay ${own} and the job is from ${printable(data.version, 60)}: its numbers would be this version's model, not the submitter's; run workers of the submitter's version`,
      );
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
