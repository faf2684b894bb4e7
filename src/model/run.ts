// Drives replays: the trace is decoded once and every batch goes to every
// configuration point (style.md: "A sweep decodes a batch once and hands it
// to every configuration point").
import fs from 'node:fs';
import type { ReplayConfig } from '../config/config.js';
import { buildSummary, type Summary } from '../report/summary.js';
import type { EventBatch } from '../trace/batch.js';
import { openTrace } from '../trace/merge.js';
import { openTraceReadAhead } from '../trace/read-ahead.js';
import type { TraceMetadata } from '../trace/schema.js';
import { Replay } from './replay.js';

/** Rows replayed by every point in turn: 8192 rows are 360 KiB of columns, well inside a core's L2. */
const SLICE_ROWS = 8192;

/** Below this much trace, a reader thread costs more to start than it saves. */
const READ_AHEAD_MIN_BYTES = 16 * 1024 * 1024;

export interface RunOptions {
  /** Called after each batch with the number of events done so far. */
  onProgress?: (eventsDone: number) => void;
  /**
   * Decode the trace on a second thread while this one replays. 'auto' (the
   * default): when the files total at least 16 MiB. Sweep workers say false:
   * their threads already fill the cores.
   */
  readAhead?: boolean | 'auto';
}

interface Source {
  labels: string[];
  meta: TraceMetadata;
  batches(): AsyncGenerator<EventBatch>;
  close(): Promise<void>;
}

function totalBytes(paths: string[]): number {
  let sum = 0;
  for (const p of paths) {
    try {
      sum += fs.statSync(p).size;
    } catch {
      // openTrace reports it, with the file's name
    }
  }
  return sum;
}

async function open(paths: string[], readAhead: boolean | 'auto'): Promise<Source> {
  if (readAhead === true || (readAhead === 'auto' && totalBytes(paths) >= READ_AHEAD_MIN_BYTES)) return openTraceReadAhead(paths);
  const trace = await openTrace(paths);
  return { labels: trace.files.map((f) => f.label), meta: trace.meta, batches: () => trace.batches(), close: () => trace.close() };
}

export async function replayPoints(paths: string[], configs: ReplayConfig[], opts: RunOptions = {}): Promise<Summary[]> {
  const trace = await open(paths, opts.readAhead ?? 'auto');
  try {
    const replays = configs.map((c) => new Replay(c, trace.meta));
    let done = 0;
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
    }
    return replays.map((r) => buildSummary(r, trace.labels, trace.meta.workload));
  } finally {
    await trace.close();
  }
}

export async function replayTrace(paths: string[], config: ReplayConfig, opts: RunOptions = {}): Promise<Summary> {
  return (await replayPoints(paths, [config], opts))[0];
}
