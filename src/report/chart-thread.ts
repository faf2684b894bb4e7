// A thread that draws charts (vega-lite specs to SVG) for `curve`. Loading
// vega and vega-lite and the first chart drawn (their code compiled and
// warmed) cost about 0.7 s a run, whatever the curve; started with the run,
// the thread pays them on the second core while the main thread computes
// the curve (a replay takes one core), and draws the charts when the
// numbers are ready. The SVGs are those svgOf draws in the main thread: the
// same libraries and specs, and a chart drawn before (the warm-up) changes
// no later one (test/report/chart-thread.test.ts).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type * as vl from 'vega-lite';
import type { CurveCounters } from '../run/curve.js';
import { builtModule } from '../built.js';
import { curveCharts, renderHere, type ChartRenderer, type CurveOf } from './curve.js';

/** What the thread is started with, to tell it from other threads that load this module. */
const ROLE = 'iommu-replay chart thread';

type Answer = { svgs: string[] } | { error: string };

/**
 * The sizes of the warm-up chart, at most: measured, a 4096-size curve's
 * chart drew about as fast after a warm-up of 512 sizes as after one of
 * 4096 (0.3-0.4 s on a loaded 2-core VM, 0.4-0.5 s without a warm-up),
 * which costs the thread about 0.25 s more CPU.
 */
export const CHART_WARM_UP_SIZES = 512;

/** A curve of `n` sizes, drawn once to warm the libraries' code the way the run's charts use it. */
function warmUpCurve(n: number): CurveOf {
  const points: CurveCounters[] = [];
  for (let e = 1; e <= n; e++) {
    const hitRate = e / (e + 64);
    points.push({
      entries: e,
      sets: 1,
      lookups: 1,
      hits: hitRate,
      misses: 1 - hitRate,
      staleHits: 0,
      walks: 0,
      walkAccesses: 0,
      faults: 0,
      hitRate,
      translationCostNs: 0,
    });
  }
  return {
    trace: 'warm-up',
    pageSizes: '4K',
    mode: 'strict',
    vendor: 'vtd',
    result: {
      policy: 'lru',
      ways: 0,
      method: 'stack',
      points,
      pageSizesUsed: ['4K'],
      ops: { dmaEvents: 0, maps: 0, mapErrors: 0, unmaps: 0, unmapErrors: 0, attaches: 0, attachErrors: 0 },
    },
  };
}

/** The main thread's side: start() at the run's start, render() when the numbers are ready, close() always. */
export class ChartThread {
  private readonly worker: Worker;
  /** The thread's failure (it could not load or draw), or its unexpected end. */
  private failure: Error | null = null;
  private pending: { resolve: (svgs: string[]) => void; reject: (err: Error) => void } | null = null;

  private constructor(warmUpSizes: number) {
    this.worker = new Worker(builtModule(import.meta.url, 'chart-thread.js'), { workerData: { role: ROLE, warmUpSizes } });
    // The thread keeps the process alive only while it draws (render): a run that fails ends without waiting for it.
    this.worker.unref();
    this.worker.on('message', (a: Answer) => {
      const p = this.pending;
      this.pending = null;
      this.worker.unref();
      if (p === null) return;
      if ('svgs' in a) p.resolve(a.svgs);
      else p.reject(new Error(`chart thread: ${a.error}`));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`chart thread: ended (exit ${code}) before drawing the charts`)));
  }

  /** Starts the thread; it loads the libraries and draws a chart of `warmUpSizes` sizes while the caller computes. */
  static start(warmUpSizes: number): ChartThread {
    return new ChartThread(warmUpSizes);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = null;
    this.worker.unref();
    p?.reject(this.failure);
  }

  /** The SVGs of `specs`, in order, drawn on the thread. */
  readonly render: ChartRenderer = (specs) =>
    new Promise<string[]>((resolve, reject) => {
      if (this.failure !== null) return reject(this.failure);
      this.pending = { resolve, reject };
      this.worker.ref();
      this.worker.postMessage(specs);
    });

  /** Ends the thread (after the charts, or as the run fails). */
  async close(): Promise<void> {
    this.pending = null;
    this.failure ??= new Error('chart thread: closed');
    await this.worker.terminate();
  }
}

// The thread's side: warm up, then draw what it is sent.
if (!isMainThread && parentPort !== null && (workerData as { role?: string } | null)?.role === ROLE) {
  const port = parentPort;
  const warm = curveCharts([warmUpCurve((workerData as { warmUpSizes: number }).warmUpSizes)]);
  // Its failure is answered to the first render (below), not left unhandled.
  warm.catch(() => undefined);
  port.on('message', (specs: vl.TopLevelSpec[]) => {
    void (async () => {
      let answer: Answer;
      try {
        await warm;
        answer = { svgs: await renderHere(specs) };
      } catch (err) {
        answer = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      port.postMessage(answer);
    })();
  });
}
