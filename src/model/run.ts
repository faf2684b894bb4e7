// Drives replays: the trace is decoded once and every batch goes to every
// configuration point (style.md: "A sweep decodes a batch once and hands it
// to every configuration point").
import type { ReplayConfig } from '../config/config.js';
import { buildSummary, type Summary } from '../report/summary.js';
import { openTrace } from '../trace/merge.js';
import { Replay } from './replay.js';

export interface RunOptions {
  /** Called after each batch with the number of events done so far. */
  onProgress?: (eventsDone: number) => void;
}

export async function replayPoints(paths: string[], configs: ReplayConfig[], opts: RunOptions = {}): Promise<Summary[]> {
  const trace = await openTrace(paths);
  try {
    const replays = configs.map((c) => new Replay(c, trace.meta));
    let done = 0;
    for await (const batch of trace.batches()) {
      for (const r of replays) r.consume(batch);
      done += batch.length;
      opts.onProgress?.(done);
    }
    const labels = trace.files.map((f) => f.label);
    return replays.map((r) => buildSummary(r, labels, trace.meta.workload));
  } finally {
    await trace.close();
  }
}

export async function replayTrace(paths: string[], config: ReplayConfig, opts: RunOptions = {}): Promise<Summary> {
  return (await replayPoints(paths, [config], opts))[0];
}
