// Worker threads for the executors (sweep, curve) and the queue worker's job threads:
// where a thread's module is, and one way to run tasks on a pool.
import type { MessagePort, Worker } from 'node:worker_threads';
import { builtModule } from '../built.js';
import { InputError } from '../errors.js';
import type { WorkerInputError } from './sweep-worker.js';

/**
 * The built module `name` of run/ (`sweep-worker.js`): threads run the build,
 * also under the test runner, where this module itself is TypeScript.
 */
export function runModule(name: string): string {
  return builtModule(import.meta.url, name);
}

/** A thread's answer, or its input error as the one line it carries (error classes do not survive cloning). */
export function unwrapInputError<R>(result: R | WorkerInputError): R {
  if (result !== null && typeof result === 'object' && 'inputError' in result) throw new InputError(result.inputError);
  return result as R;
}

export type PoolRun = (task: unknown, transferList?: MessagePort[]) => Promise<unknown>;

/**
 * Runs `each` for every item on a pool of at most `threads` threads of
 * `filename`; results in item order. On the first failure the other tasks
 * are aborted and waited for before the pool goes: no thread is torn down
 * mid-task, and `aborted()` tells a task not to report after the run failed.
 */
export async function runOnPool<T, R>(
  filename: string,
  threads: number,
  items: readonly T[],
  each: (item: T, run: PoolRun, aborted: () => boolean) => Promise<R>,
): Promise<R[]> {
  // The pool's library loads only when threads run (a CLI start pays for no more than it uses).
  const { Piscina } = await import('piscina');
  const pool = new Piscina({ filename, minThreads: 0, maxThreads: threads, idleTimeout: 100 });
  // Threads that have loaded their module (piscina says 'workerCreate' once a
  // thread started after the pool's construction, as all are with minThreads
  // 0, is ready): see threadsLoaded.
  const loaded = new Set<number>();
  pool.on('workerCreate', (w: { id: number }) => loaded.add(w.id));
  // One AbortController per task, all aborted on the first failure. (One
  // signal shared by every task got one 'abort' listener per queued task from
  // piscina: past 10, Node warned "MaxListenersExceededWarning: Possible
  // EventTarget memory leak" on a correct run.)
  let aborted = false;
  const live = new Set<AbortController>();
  const abortAll = () => {
    aborted = true;
    for (const c of live) c.abort();
  };
  // A thread that finishes a task just as it is aborted answers a task the
  // pool no longer knows, and piscina emits that as an 'error' on the pool:
  // unheard, it would end the process (exit 1) in place of the sweep's own
  // one-line error. After an abort it is expected; before, it is a fault.
  let poolError: unknown;
  pool.on('error', (err) => {
    if (!aborted) poolError ??= err;
  });
  const run: PoolRun = async (task, transferList) => {
    const controller = new AbortController();
    if (aborted) controller.abort();
    live.add(controller);
    try {
      return await pool.run(task, { transferList, signal: controller.signal });
    } finally {
      live.delete(controller);
    }
  };
  const runs = items.map((item) => each(item, run, () => aborted));
  try {
    const results = await Promise.all(runs);
    if (poolError !== undefined) throw poolError;
    return results;
  } catch (err) {
    // Aborting a task that piscina has handed to a thread terminates that
    // thread; one still loading its module then takes the process down (see
    // threadsLoaded). So every thread finishes loading first: a sweep whose
    // first task failed at once aborted the second while its thread loaded
    // (1 run in 35-90 on a loaded machine, a CI run among them).
    await threadsLoaded(pool, loaded);
    abortAll();
    await Promise.allSettled(runs);
    throw err;
  } finally {
    await threadsLoaded(pool, loaded);
    await pool.destroy();
  }
}

/**
 * Waits until every thread of `pool` has loaded its module or exited. Node 20
 * aborts the whole process ("FATAL ERROR: v8::Module::IsGraphAsync ... must be
 * used on an instantiated module") when a thread is terminated while it loads
 * an ES module through require(), as piscina's threads load theirs: a sweep
 * whose first task failed at once tore down a thread still starting, and the
 * process crashed with a native stack trace in place of its one-line error.
 */
async function threadsLoaded(
  pool: { threads: Worker[]; on(event: 'workerCreate', f: () => void): unknown; off(event: 'workerCreate', f: () => void): unknown },
  loaded: Set<number>,
): Promise<void> {
  for (;;) {
    const starting = pool.threads.filter((t) => t.threadId !== -1 && !loaded.has(t.threadId));
    if (starting.length === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        pool.off('workerCreate', done);
        for (const t of starting) t.off('exit', done);
        resolve();
      };
      pool.on('workerCreate', done);
      for (const t of starting) t.on('exit', done);
    });
  }
}
