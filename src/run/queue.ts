// The queued executor: the same plan of jobs as a local sweep (planTasks: one
// job is one trace with the points that share its decode), run by
// `iommu-replay worker` processes on BullMQ over Redis instead of by local
// threads. Job ids are hashes of what the job computes, so a resubmission
// finds the finished jobs and reuses their results.
import { MessageChannel } from 'node:worker_threads';
import { Queue, UnrecoverableError, Worker, type Job, type JobJson } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReplayConfig } from '../config/config.js';
import { InputError, UnavailableError } from '../errors.js';
import { printable } from '../text.js';
import { traceIdentity } from './identity.js';
import type { CurveResult } from './curve.js';
import type { CurveTask } from './curve-worker.js';
import { runModule } from './pool.js';
import { checkJobDepth, curvesOf, jobId, summariesOf, type JobData, type JobResult, type WorkerLimits } from './queue-job.js';
import type { ProcessorTask } from './queue-processor.js';
import type { WorkerInputError } from './sweep-worker.js';
import { connect, describeRedisError, redact, shownUrl, type QueueConnection } from './queue-connection.js';
import { laneGroupOf, planTasks, type SweepRunOptions } from './sweep.js';

export { jobId, type JobData, type JobResult } from './queue-job.js';

export const QUEUE_NAME = 'iommu-replay';
/** Results are kept this long for resubmissions to reuse. */
const KEEP_SECONDS = 7 * 24 * 3600;
/**
 * The submitter looks at its jobs when the queue records an event
 * (queueEvents) and at least this often: the look costs two Redis round trips
 * a job, on a machine whose cores the workers may share.
 */
const POLL_MS = 1000;
/** How long one blocking read of the event stream waits (a stop interrupts it). */
const EVENT_BLOCK_MS = 5000;

export interface QueueOptions extends QueueConnection {
  /** Seconds without Redis before a sweep gives up. */
  lostAfterS?: number;
}

/**
 * Rejects once Redis has been unreachable for `afterS` seconds; ioredis
 * reconnects by itself in between, and a short outage costs nothing. While
 * Redis is away, BullMQ's calls wait rather than fail, so the sweep races
 * each of them against this.
 */
function watchConnection(redis: Redis, conn: QueueConnection, afterS: number): { lost: Promise<never>; stop: () => void } {
  let downSince = 0;
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      if (redis.status === 'ready') {
        downSince = 0;
        return;
      }
      downSince ||= Date.now();
      if (Date.now() - downSince > afterS * 1000) reject(new UnavailableError(`Lost Redis at ${shownUrl(conn.url)}: no connection for ${afterS} s`));
    }, 200);
  });
  lost.catch(() => {}); // observed through the races below
  return { lost, stop: () => clearInterval(timer) };
}

/**
 * Wakes the submitter as soon as the queue records an event: BullMQ appends
 * every job's progress, completion and failure to the queue's event stream,
 * read here with a blocking XREAD on a connection of its own. So a finished
 * sweep is seen at once, not up to a poll interval later, and nothing is
 * asked of Redis while the jobs run. The entries only wake the submitter
 * (Redis is writable by others): it reads each job's state and result itself.
 * A failed read (Redis away) falls back to polling until it reads again.
 */
export function queueEvents(
  redis: Redis,
  key: string,
): {
  ready: Promise<void>;
  wait: (ms: number) => Promise<'event' | 'timeout'>;
  stop: () => void;
} {
  const sub = redis.duplicate();
  // Its errors are the watchdog's to judge (on the main connection).
  sub.on('error', () => {});
  let stopped = false;
  let seen = false;
  let wake: (() => void) | undefined;
  let started!: () => void;
  const ready = new Promise<void>((r) => (started = r));
  void (async () => {
    // From the stream's last entry before any job is added (ready): no event of ours is missed.
    let last = '$';
    while (!stopped) {
      try {
        if (last === '$') {
          last = (await sub.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
          started();
        }
        const read = await sub.xread('COUNT', 1000, 'BLOCK', EVENT_BLOCK_MS, 'STREAMS', key, last);
        const entries = read?.[0]?.[1];
        if (entries?.length) {
          last = entries[entries.length - 1][0];
          seen = true;
          wake?.();
        }
      } catch {
        // Not read yet: the submitter starts on polling alone.
        started();
        if (!stopped) await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
  })();
  return {
    ready,
    /** Resolves at the next event (at once if one came since the last wait), or after `ms`. */
    wait: (ms) =>
      new Promise((resolve) => {
        if (seen) {
          seen = false;
          resolve('event');
          return;
        }
        const timer = setTimeout(() => {
          wake = undefined;
          resolve('timeout');
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          seen = false;
          resolve('event');
        };
      }),
    stop: () => {
      stopped = true;
      wake?.();
      sub.disconnect();
    },
  };
}

/** A job to submit, and what to do with its result. */
interface Submission {
  data: JobData;
  /** Called once, with the job's result, when it completes; throws Error when the result is not one of this job (queue-job.ts). */
  done: (result: unknown, id: string) => void;
  /** Events done so far, from the job's progress. */
  progress?: (events: number) => void;
}

/** A job in words, for a message: its id's first 8 digits and its trace. */
function jobName(id: string, data: JobData): string {
  return `Job ${id.slice(0, 8)} (${printable(data.trace.map((t) => t.path).join('+'), 200)})`;
}

/**
 * Queues the jobs (ids from their content: a finished one is reused, a
 * failed one runs again), then polls them to the end. A failed job fails the
 * whole run with its one line; Redis lost for `lostAfterS` is one line too.
 * A result that is not one of its job (malformed, of another job or
 * configuration: Redis is writable by others) fails the run with one line
 * naming the job, and is removed so that the next run computes it again.
 */
async function submitAll(jobs: Submission[], opts: QueueOptions): Promise<void> {
  const redis = await connect(opts, 'submit');
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection: redis });
  // Connection errors are the watchdog's to judge; BullMQ would print each one.
  queue.on('error', () => {});
  const watch = watchConnection(redis, opts, opts.lostAfterS ?? 10);
  const live = <T>(p: Promise<T>): Promise<T> => Promise.race([p, watch.lost]);
  const events = queueEvents(redis, queue.keys.events);
  try {
    await live(events.ready);
    const pending = new Map<string, Submission>();
    for (const j of jobs) {
      const id = jobId(j.data);
      const job = await live(
        queue.add(j.data.kind, j.data, { jobId: id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } }),
      );
      // A job that failed before (a worker without the file, say) runs again: the submitter asked anew.
      if ((await live(job.getState())) === 'failed') await live(job.retry('failed'));
      pending.set(id, j);
    }
    while (pending.size > 0) {
      for (const [id, j] of pending) {
        // The state first, then the job: the result is written with the state, in one script.
        const state = await live(queue.getJobState(id));
        if (state === 'unknown')
          throw new UnavailableError(`${jobName(id, j.data)} vanished from the queue at ${shownUrl(opts.url)} (was the database flushed?)`);
        if (state !== 'completed' && state !== 'failed' && !j.progress) continue;
        let job: Job<JobData, unknown> | undefined;
        try {
          job = (await live(queue.getJob(id))) as Job<JobData, unknown> | undefined;
        } catch (err) {
          if (err instanceof UnavailableError) throw err;
          // BullMQ parses the job's record (its data, its options) as JSON: a forged one throws.
          throw new InputError(`${jobName(id, j.data)}: its record in the queue is unreadable (${printable(String((err as Error)?.message), 200)})`);
        }
        if (state === 'completed') {
          pending.delete(id);
          try {
            j.done(job?.returnvalue, id);
          } catch (err) {
            // Removed, so that the next run computes it again instead of finding it.
            await live(queue.remove(id)).catch(() => {});
            throw new InputError(
              `${jobName(id, j.data)}: its result in the queue is not valid for the job (${printable((err as Error).message, 200)}); it was removed from the queue, run again to compute it anew`,
            );
          }
        } else if (state === 'failed') {
          // The worker's one-line error (bad input, a file that differs): it fails once, for good.
          // It comes from Redis: shown as text, one line, bounded.
          throw new InputError(job?.failedReason ? printable(job.failedReason, 500) : `${jobName(id, j.data)} failed`);
        } else if (typeof job?.progress === 'number' && Number.isFinite(job.progress) && job.progress >= 0) {
          j.progress?.(job.progress);
        }
      }
      if (pending.size > 0) await live(events.wait(POLL_MS));
    }
  } finally {
    events.stop();
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
    tasks.map((task, i) => {
      const data: JobData & { kind: 'points' } = {
        version: opts.version,
        trace: task.trace.map((f) => identities.get(f)!),
        kind: 'points',
        configs: task.pointIndexes.map((p) => points[p]),
        maxTableBytes: opts.maxTableBytes,
      };
      return {
        data,
        done: (result, id) => {
          const summaries = summariesOf(result, data, id);
          summaries.forEach((s, k) => opts.onResult?.(task.traceIndex, task.pointIndexes[k], s));
          eventsOf[i] = summaries[0].trace.events * task.pointIndexes.length;
          report();
        },
        progress: (events) => {
          eventsOf[i] = events * task.pointIndexes.length;
          report();
        },
      };
    }),
    opts,
  );
}

/** The curve tasks on the queue, one job each; results in task order, as run/curve-worker.ts gives them. */
export async function runCurvesQueued(tasks: CurveTask[], opts: QueueOptions & { version: string }): Promise<CurveResult[][]> {
  const results: CurveResult[][] = tasks.map(() => []);
  await submitAll(
    tasks.map(({ trace, ...curve }, i) => {
      const data: JobData & { kind: 'curve' } = { version: opts.version, trace: [traceIdentity(trace)], kind: 'curve', curve };
      return {
        data,
        done: (result, id) => {
          results[i] = curvesOf(result, data, id);
        },
      };
    }),
    opts,
  );
  return results;
}

export interface WorkerOptions extends QueueConnection {
  concurrency: number;
  /** How long a job's lock lasts without renewal: a killed worker's job is taken over after about this long. */
  lockMs?: number;
  /** What the worker allows every job (queue-job.ts). */
  limits: WorkerLimits;
  log?: (line: string) => void;
  /** The module the jobs run in (default run/queue-processor.js); the tests give one that can crash its thread. */
  threadModule?: string;
}

/** What the job threads (queue-processor.ts) are given besides each job: the worker's limits. */
export interface ProcessorData {
  limits: WorkerLimits;
}

/**
 * BullMQ's Worker, but a job whose data in Redis is not JSON is taken and
 * failed rather than lost: BullMQ parses the data as it takes the job
 * (Job.fromJSON), and its parse error went to the worker's error handler as
 * if Redis had gone, leaving the job active and locked by nobody.
 */
class JobWorker extends Worker<JobData, JobResult> {
  /** The jobs taken with unreadable data: the processor fails them without running them. */
  readonly unreadable = new WeakSet<Job>();

  protected override createJob(raw: JobJson, id: string): Job<JobData, JobResult> {
    try {
      return super.createJob(raw, id);
    } catch {
      const job = super.createJob({ ...raw, data: '{}' }, id);
      this.unreadable.add(job);
      return job;
    }
  }
}

/** Why a job's thread failed it, in one line: the thread's error, or how the thread stopped. */
function threadFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'its thread ran out of memory';
  const message = printable(String(e?.message ?? err), 200);
  return /^worker exited with code/.test(message) ? `its thread stopped (${message.replace(/^worker /, '')})` : `its thread failed: ${message}`;
}

/**
 * A long-running worker. Jobs run on a pool of `concurrency` threads started
 * with the worker and kept warm between jobs (module loading and compilation
 * paid once, not per job); the main thread only takes jobs, renews their
 * locks however long a replay takes, and stores progress and results. A
 * thread that crashes fails its job with one line, and the pool starts a
 * fresh thread for the next.
 *
 * `close()` lets running jobs finish while Redis is there; with Redis gone
 * (a job's result could not be stored anyway) it stops at once: BullMQ's own
 * close would wait for a connection that may never come back.
 */
export async function startWorker(opts: WorkerOptions): Promise<{ close: () => Promise<void>; closed: Promise<void> }> {
  const redis = await connect(opts, 'worker');
  const lockDuration = opts.lockMs ?? 30_000;
  const processorData: ProcessorData = { limits: opts.limits };
  const { Piscina } = await import('piscina');
  const pool = new Piscina({
    filename: opts.threadModule ?? runModule('queue-processor.js'),
    minThreads: opts.concurrency,
    maxThreads: opts.concurrency,
    idleTimeout: Infinity,
    workerData: processorData,
  });
  // A thread that answers a task the pool no longer knows (after a forced close) is no fault of a job.
  pool.on('error', () => {});
  // Every thread loads its module now (piscina gives each idle thread one of these), not with its first job.
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, () => pool.run(null, { name: 'warm' })));
  } catch (err) {
    // The module does not load (a broken installation): nothing to run jobs on.
    await pool.destroy();
    redis.disconnect();
    throw err;
  }
  const processor = async (job: Job<JobData, JobResult>): Promise<JobResult> => {
    if (worker.unreadable.has(job)) throw new UnrecoverableError('Invalid job: its data in the queue is not JSON');
    try {
      // Before the data is cloned to a thread: cloning recurses, and a forged job may nest without end.
      checkJobDepth(job.data);
    } catch (err) {
      if (err instanceof InputError) throw new UnrecoverableError(err.message);
      throw err;
    }
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (events: unknown) => {
      if (typeof events === 'number') job.updateProgress(events).catch(() => {});
    });
    let out: JobResult | WorkerInputError;
    try {
      out = (await pool.run({ data: job.data, port: port2 } satisfies ProcessorTask, { transferList: [port2] })) as JobResult | WorkerInputError;
    } catch (err) {
      // Not retried: a job that crashes a thread would crash the next one too.
      throw new UnrecoverableError(`Job ${printable(String(job.id).slice(0, 8))} failed: ${threadFailure(err)}`);
    } finally {
      port1.close();
    }
    // Bad input fails the same way on every worker: fail once, never retry.
    if ('inputError' in out) throw new UnrecoverableError(out.inputError);
    return out;
  };
  const worker = new JobWorker(QUEUE_NAME, processor, {
    connection: redis,
    concurrency: opts.concurrency,
    lockDuration,
    stalledInterval: Math.max(500, lockDuration / 2),
    // A job whose worker died twice is taken as poison, not retried forever.
    maxStalledCount: 2,
  });
  const log = (line: string) => opts.log?.(redact(line, opts));
  const started = new Map<string, number>();
  // A job's fields come from Redis: shown bounded and without control characters.
  const nameOf = (job: Job<JobData, JobResult> | undefined) => printable(String(job?.id ?? '?').slice(0, 8));
  worker.on('active', (job) => {
    started.set(String(job.id), Date.now());
    const trace = Array.isArray(job.data?.trace) ? job.data.trace.map((t) => String(t?.path)).join('+') : '?';
    log(
      `job ${nameOf(job)} ${printable(trace, 200)}: ${job.data?.kind === 'points' && Array.isArray(job.data.configs) ? `${job.data.configs.length} point(s)` : 'curves'}`,
    );
  });
  worker.on('completed', (job) => {
    log(`job ${nameOf(job)} done in ${((Date.now() - (started.get(String(job.id)) ?? Date.now())) / 1000).toFixed(1)} s`);
    started.delete(String(job.id));
  });
  worker.on('failed', (job, err) => {
    log(`job ${nameOf(job)} failed: ${printable(err.message, 500)}`);
    started.delete(String(job?.id));
  });
  // One line when Redis goes away and one when it is back, not one per reconnection attempt.
  let down = false;
  const unreadableSeen = new Set<string>();
  worker.on('error', (err) => {
    // A job's record BullMQ could not parse as it took the job (its options or
    // progress; its data is JobWorker's): Redis is there, one job is not.
    // BullMQ takes such a job again each time its lock expires: one line for each record, not one each time.
    if (err instanceof SyntaxError) {
      const line = `a job in the queue is unreadable (${printable(err.message, 200)}): it was not run`;
      if (unreadableSeen.size < 100 && !unreadableSeen.has(line)) {
        unreadableSeen.add(line);
        log(line);
      }
      return;
    }
    if (down) return;
    down = true;
    log(`lost Redis (${describeRedisError(err).text}); reconnecting until it is back or the worker is stopped`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log('Redis is back');
  });
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  // Stopping is best effort: an error on the way (Redis gone mid-close) must not keep the process up or crash it.
  const close = async (force: boolean) => {
    await worker.close(force).catch(() => {});
    // Redis first: the replays a forced close cuts short here must not be stored as failed (their
    // locks expire, and other workers take them over).
    redis.disconnect();
    await pool.destroy().catch(() => {});
  };
  return {
    closed,
    close: () => {
      // A second signal, or Redis gone: stop now; running jobs are taken over by other workers when their lock expires.
      const now = closing !== undefined || redis.status !== 'ready';
      if (now) {
        void Promise.race([close(true), new Promise((r) => setTimeout(r, 2000))]).finally(resolveClosed);
        return closed;
      }
      closing = close(false).finally(resolveClosed);
      return closing;
    },
  };
}
