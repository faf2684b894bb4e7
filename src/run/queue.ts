// The queued executor: the same plan of jobs as a local sweep (planTasks: one
// job is one trace with the points that share its decode), run by
// `iommu-replay worker` processes on BullMQ over Redis instead of by local
// threads. Job ids are hashes of what the job computes, so a resubmission
// finds the finished jobs and reuses their results.
import crypto from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { ReplayConfig } from '../config/config.js';
import { InputError, UnavailableError } from '../errors.js';
import { parseSummary } from '../stats/summary.js';
import { traceIdentity, type TraceIdentity } from './identity.js';
import type { CurveResult } from './curve.js';
import type { CurveTask } from './curve-worker.js';
import { runModule } from './pool.js';
import { laneGroupOf, planTasks, type SweepRunOptions } from './sweep.js';

export const QUEUE_NAME = 'iommu-replay';
/** Results are kept this long for resubmissions to reuse. */
const KEEP_SECONDS = 7 * 24 * 3600;
const POLL_MS = 250;

/**
 * What a job carries: everything a worker needs, and nothing that depends on
 * the submitting machine but the paths. A sweep job replays points; a curve
 * job computes one trace's curves (run/curve-worker.ts).
 */
export type JobData = { version: string; trace: TraceIdentity[] } & (
  | { kind: 'points'; configs: ReplayConfig[]; maxTableBytes?: number }
  | { kind: 'curve'; curve: Omit<CurveTask, 'trace'> }
);

/** A job's result: a points job's summaries as written to disk (stableStringify), or a curve job's results as JSON. */
export type JobResult = string[];

export function jobId(data: JobData): string {
  return crypto.createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 32);
}

export interface QueueOptions {
  /** redis://host:port[/db] */
  url: string;
  /** Seconds without Redis before a sweep gives up. */
  lostAfterS?: number;
}

/**
 * A Redis connection for BullMQ, checked before any job is queued: an
 * unreachable server is one line, not a hang (ioredis would retry forever).
 */
export async function connect(url: string, purpose: 'submit' | 'worker'): Promise<Redis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`Invalid --queue "${url}": expected redis://HOST:PORT[/DB]`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new InputError(`Invalid --queue "${url}": expected redis://HOST:PORT[/DB]`);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new InputError(`Invalid --queue "${url}": the database "${parsed.pathname.slice(1)}" is not a number`);
  const redis = new Redis(url, {
    // BullMQ's blocking commands need this; the watchdog below, not ioredis, decides when Redis is lost.
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: 5000,
    retryStrategy: (times: number) => Math.min(200 * times, 1000),
  });
  let lastError = '';
  redis.on('error', (err: NodeJS.ErrnoException) => {
    lastError = err.code ?? err.message;
  });
  try {
    await withTimeout(redis.connect().then(() => redis.ping()), 8000, () => lastError || 'timed out');
  } catch (err) {
    redis.disconnect();
    throw new UnavailableError(`Cannot reach Redis at ${url}: ${lastError || (err as Error).message}${purpose === 'worker' ? '' : ' (is redis-server running?)'}`);
  }
  return redis;
}

function withTimeout<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(why())), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/**
 * Rejects once Redis has been unreachable for `afterS` seconds; ioredis
 * reconnects by itself in between, and a short outage costs nothing. While
 * Redis is away, BullMQ's calls wait rather than fail, so the sweep races
 * each of them against this.
 */
function watchConnection(redis: Redis, url: string, afterS: number): { lost: Promise<never>; stop: () => void } {
  let downSince = 0;
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      if (redis.status === 'ready') {
        downSince = 0;
        return;
      }
      downSince ||= Date.now();
      if (Date.now() - downSince > afterS * 1000) reject(new UnavailableError(`Lost Redis at ${url}: no connection for ${afterS} s`));
    }, 200);
  });
  lost.catch(() => {}); // observed through the races below
  return { lost, stop: () => clearInterval(timer) };
}

/** A job to submit, and what to do with its result. */
interface Submission {
  data: JobData;
  /** Called once, with the job's result, when it completes. */
  done: (result: JobResult) => void;
  /** Events done so far, from the job's progress. */
  progress?: (events: number) => void;
}

/**
 * Queues the jobs (ids from their content: a finished one is reused, a
 * failed one runs again), then polls them to the end. A failed job fails the
 * whole run with its one line; Redis lost for `lostAfterS` is one line too.
 */
async function submitAll(jobs: Submission[], opts: QueueOptions): Promise<void> {
  const redis = await connect(opts.url, 'submit');
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection: redis });
  // Connection errors are the watchdog's to judge; BullMQ would print each one.
  queue.on('error', () => {});
  const watch = watchConnection(redis, opts.url, opts.lostAfterS ?? 10);
  const live = <T>(p: Promise<T>): Promise<T> => Promise.race([p, watch.lost]);
  try {
    const pending = new Map<string, Submission>();
    for (const j of jobs) {
      const id = jobId(j.data);
      const job = await live(queue.add(j.data.kind, j.data, { jobId: id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } }));
      // A job that failed before (a worker without the file, say) runs again: the submitter asked anew.
      if ((await live(job.getState())) === 'failed') await live(job.retry('failed'));
      pending.set(id, j);
    }
    while (pending.size > 0) {
      for (const [id, j] of pending) {
        // The state first, then the job: a job read before it completed would carry no result.
        const state = await live(queue.getJobState(id));
        if (state === 'unknown') throw new UnavailableError(`Job ${id} of ${j.data.trace.map((t) => t.path).join('+')} vanished from the queue at ${opts.url} (was the database flushed?)`);
        if (state !== 'completed' && state !== 'failed' && !j.progress) continue;
        const job = (await live(queue.getJob(id))) as Job<JobData, JobResult> | undefined;
        if (state === 'completed') {
          if (!job?.returnvalue) continue; // not readable yet: the next round
          pending.delete(id);
          j.done(job.returnvalue);
        } else if (state === 'failed') {
          // The worker's one-line error (bad input, a file that differs): it fails once, for good.
          throw new InputError(job?.failedReason ?? `Job ${id} failed`);
        } else if (typeof job?.progress === 'number') {
          j.progress?.(job.progress);
        }
      }
      if (pending.size > 0) await live(new Promise((r) => setTimeout(r, POLL_MS)));
    }
  } finally {
    watch.stop();
    await Promise.race([queue.close(), new Promise((r) => setTimeout(r, 2000))]);
    redis.disconnect();
  }
}

/** `runSweep` on the queue: same plan, same callbacks, same results. */
export async function runSweepQueued(traces: string[][], points: ReplayConfig[], opts: SweepRunOptions & QueueOptions & { version: string }): Promise<void> {
  const tasks = planTasks(traces, points.length, opts.jobs, opts.skip, laneGroupOf(points));
  const identities = new Map(traces.flat().map((f) => [f, traceIdentity(f)]));
  const eventsOf = tasks.map(() => 0);
  const report = () => opts.onProgress?.(eventsOf.reduce((a, b) => a + b, 0));
  await submitAll(
    tasks.map((task, i) => ({
      data: { version: opts.version, trace: task.trace.map((f) => identities.get(f)!), kind: 'points', configs: task.pointIndexes.map((p) => points[p]), maxTableBytes: opts.maxTableBytes },
      done: (texts) => {
        const summaries = texts.map(parseSummary);
        summaries.forEach((s, k) => opts.onResult?.(task.traceIndex, task.pointIndexes[k], s));
        eventsOf[i] = summaries[0].trace.events * task.pointIndexes.length;
        report();
      },
      progress: (events) => {
        eventsOf[i] = events * task.pointIndexes.length;
        report();
      },
    })),
    opts,
  );
}

/** The curve tasks on the queue, one job each; results in task order, as run/curve-worker.ts gives them. */
export async function runCurvesQueued(tasks: CurveTask[], opts: QueueOptions & { version: string }): Promise<CurveResult[][]> {
  const results: CurveResult[][] = tasks.map(() => []);
  await submitAll(
    tasks.map(({ trace, ...curve }, i) => ({
      data: { version: opts.version, trace: [traceIdentity(trace)], kind: 'curve', curve },
      done: ([text]) => {
        results[i] = JSON.parse(text) as CurveResult[];
      },
    })),
    opts,
  );
  return results;
}


export interface WorkerOptions {
  url: string;
  concurrency: number;
  /** How long a job's lock lasts without renewal: a killed worker's job is taken over after about this long. */
  lockMs?: number;
  log?: (line: string) => void;
}

/**
 * A long-running worker. Jobs run in sandboxed worker threads (BullMQ
 * `useWorkerThreads`), so the main thread stays free to renew their locks
 * however long a replay takes.
 */
export async function startWorker(opts: WorkerOptions): Promise<{ close: () => Promise<void>; closed: Promise<void> }> {
  const redis = await connect(opts.url, 'worker');
  const lockDuration = opts.lockMs ?? 30_000;
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, runModule('queue-processor.js'), {
    connection: redis,
    concurrency: opts.concurrency,
    useWorkerThreads: true,
    lockDuration,
    stalledInterval: Math.max(500, lockDuration / 2),
    // A job whose worker died twice is taken as poison, not retried forever.
    maxStalledCount: 2,
  });
  const log = opts.log ?? (() => {});
  const started = new Map<string, number>();
  worker.on('active', (job) => {
    started.set(job.id!, Date.now());
    log(`job ${job.id!.slice(0, 8)} ${job.data.trace.map((t) => t.path).join('+')}: ${job.data.kind === 'points' ? `${job.data.configs.length} point(s)` : 'curves'}`);
  });
  worker.on('completed', (job) => log(`job ${job.id!.slice(0, 8)} done in ${((Date.now() - (started.get(job.id!) ?? Date.now())) / 1000).toFixed(1)} s`));
  worker.on('failed', (job, err) => log(`job ${job?.id?.slice(0, 8) ?? '?'} failed: ${err.message}`));
  worker.on('error', (err) => log(`worker: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  return {
    closed,
    close: async () => {
      await worker.close();
      redis.disconnect();
      resolveClosed();
    },
  };
}
