// Drives replays: the trace is decoded once and every batch goes to every
// configuration point (style.md: "A sweep decodes a batch once and hands it
// to every configuration point").
import type { ReplayConfig } from '../config/config.js';
import { buildSummary, type Summary } from '../stats/summary.js';
import { openTrace } from '../trace/merge.js';
import type { TraceMetadata } from '../trace/schema.js';
import { Replay, type ReplayLimits } from '../model/replay.js';

/** Rows replayed by every point in turn: 8192 rows are 360 KiB of columns, well inside a core's L2. */
const SLICE_ROWS = 8192;

export interface RunOptions extends ReplayLimits {
  /** Called after each batch with the number of events done so far. */
  onProgress?: (eventsDone: number) => void;
}

/** Replays built for a trace's metadata, fed the trace once (one decode, every replay). */
export async function runReplays<R extends Replay>(paths: string[], make: (meta: TraceMetadata) => R[], opts: RunOptions = {}): Promise<{ replays: R[]; labels: string[]; workload?: string }> {
  const trace = await openTrace(paths);
  try {
    const replays = make(trace.meta);
    let done = 0;
    let lastTurn = performance.now();
    for await (const batch of trace.batches()) {
      // Every point takes a slice before the next slice is read: a slice stays
      // in the core's cache for all the points instead of being fetched anew
      // for each.
      for (let from = 0; from < batch.length; from += SLICE_ROWS) {
        const to = Math.min(batch.length, from + SLICE_ROWS);
        for (const r of replays) r.consume(batch, from, to);
      }
      done += batch.length;
      opts.onProgress?.(done);
      // Reads are synchronous (trace/ipc.ts): give timers, such as a progress
      // bar's redraw, a turn now and then.
      if (performance.now() - lastTurn > 100) {
        await new Promise((resolve) => setImmediate(resolve));
        lastTurn = performance.now();
      }
    }
    return { replays, labels: trace.files.map((f) => f.label), workload: trace.meta.workload };
  } finally {
    await trace.close();
  }
}

export async function replayPoints(paths: string[], configs: ReplayConfig[], opts: RunOptions = {}): Promise<Summary[]> {
  const { replays, labels, workload } = await runReplays(paths, (meta) => configs.map((c) => new Replay(c, meta, opts)), opts);
  return replays.map((r) => buildSummary(r, labels, workload));
}

export async function replayTrace(paths: string[], config: ReplayConfig, opts: RunOptions = {}): Promise<Summary> {
  return (await replayPoints(paths, [config], opts))[0];
}
