// Drives replays: the trace is decoded once and every batch goes to every
// configuration point (one decode for all the points, not one per point).
import type { ReplayConfig } from '../config/config.js';
import { buildSummary, type ReplayResult, type Summary } from '../stats/summary.js';
import { stableStringify } from '../json.js';
import { laneCounters } from '../caches/lanes.js';
import { openTrace } from '../trace/merge.js';
import type { TraceMetadata } from '../trace/schema.js';
import { Replay, type ReplayLimits } from '../model/replay.js';
import { modeRules } from '../invalidation/modes.js';

/** Rows replayed by every point in turn: 8192 rows are 360 KiB of columns, well inside a core's L2. */
const SLICE_ROWS = 8192;

export interface RunOptions extends ReplayLimits {
  /** Called after each batch with the number of events done so far. */
  onProgress?: (eventsDone: number) => void;
}

/** Replays built for a trace's metadata, fed the trace once (one decode, every replay). */
export async function runReplays<R extends Replay>(
  paths: string[],
  make: (meta: TraceMetadata) => R[],
  opts: RunOptions = {},
): Promise<{ replays: R[]; labels: string[]; workload?: string }> {
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

/** What replays a trace: builds replays for its metadata, feeds them the whole trace, and gives them back. */
export type Feed = (make: (meta: TraceMetadata) => Replay[]) => Promise<{ replays: Replay[]; labels: string[]; workload?: string }>;

export async function replayPoints(paths: string[], configs: ReplayConfig[], opts: RunOptions = {}): Promise<Summary[]> {
  return replayPointsFed((make) => runReplays(paths, make, opts), configs, opts);
}

/**
 * The summary of every point, replayed from `feed`. Points that differ only
 * in their IOTLB share one replay as lanes (caches/lanes.ts); the rest, and a
 * trace with nested domains (whose 2-D walks the lanes do not price), get a
 * replay each. A lane that would have parted from its leader is replayed on
 * its own in a second pass.
 */
export async function replayPointsFed(feed: Feed, configs: ReplayConfig[], limits: ReplayLimits = {}): Promise<Summary[]> {
  let groups: number[][] = [];
  const { replays, labels, workload } = await feed((meta) => {
    groups = (meta.parents?.size ?? 0) > 0 ? configs.map((_, i) => [i]) : laneGroups(configs);
    return groups.map((g) =>
      g.length === 1
        ? new Replay(configs[g[0]], meta, limits)
        : laneReplay(
            g.map((i) => configs[i]),
            meta,
            limits,
          ),
    );
  });
  const summaries: Summary[] = new Array(configs.length);
  const alone: number[] = [];
  groups.forEach((g, k) => {
    const r = replays[k];
    if (g.length === 1) {
      summaries[g[0]] = buildSummary(r, labels, workload);
      return;
    }
    const lanes = laneSummaries(
      r,
      g.map((i) => configs[i]),
      labels,
      workload,
    );
    summaries[g[0]] = lanes[0]!;
    for (let j = 1; j < g.length; j++) {
      const s = lanes[j];
      if (s) summaries[g[j]] = s;
      else alone.push(g[j]); // a lane that would have parted from its leader: that point replays on its own
    }
  });
  if (alone.length > 0) {
    const again = await feed((meta) => alone.map((i) => new Replay(configs[i], meta, limits)));
    alone.forEach((i, k) => (summaries[i] = buildSummary(again.replays[k], labels, workload)));
  }
  return summaries;
}

/**
 * Groups of points (indexes into `configs`, in order) that may run as lanes
 * of one replay: a mode whose rules allow lanes (strict), no walk caches
 * (their fills follow the IOTLB's misses), and equal in everything but the
 * IOTLB.
 */
export function laneGroups(configs: ReplayConfig[]): number[][] {
  const byKey = new Map<string, number[]>();
  const groups: number[][] = [];
  configs.forEach((c, i) => {
    if (!modeRules(c.invalidation.mode).lanes || c.walkCache !== undefined) {
      groups.push([i]);
      return;
    }
    const { iotlb: _iotlb, ...rest } = c;
    const key = stableStringify(rest, 0);
    const g = byKey.get(key);
    if (g) g.push(i);
    else {
      const fresh = [i];
      byKey.set(key, fresh);
      groups.push(fresh);
    }
  });
  return groups;
}

/** One replay of the first configuration whose IOTLBs carry every configuration's table as a lane. */
export function laneReplay(configs: ReplayConfig[], meta: TraceMetadata, opts: RunOptions): Replay {
  return new Replay(configs[0], meta, { maxTableBytes: opts.maxTableBytes, generic: opts.generic, lanes: configs.slice(1).map((c) => c.iotlb) });
}

export async function replayTrace(paths: string[], config: ReplayConfig, opts: RunOptions = {}): Promise<Summary> {
  return (await replayPoints(paths, [config], opts))[0];
}

/**
 * The summary of each lane of `r` (made by laneReplay of `configs`), in
 * order; null for the lanes that would have parted from the leader (the
 * leader's own, first, is always exact).
 */
export function laneSummaries(r: Replay, configs: ReplayConfig[], labels: string[], workload?: string): (Summary | null)[] {
  const lanes = r.lanes!.filter((l) => l !== undefined); // instances without a device have none (Replay.openInstance)
  const exact = !lanes.some((l) => l.diverged);
  return configs.map((config, j) => {
    if (j === 0) return buildSummary(r, labels, workload);
    if (!exact) return null;
    // Lane j's counters and configuration, on the leader's facts.
    const lane: ReplayResult = {
      counters: laneCounters(r.counters, lanes, j, r.nDevices, r.nDomains),
      config,
      events: r.events,
      firstTs: r.firstTs,
      lastTs: r.lastTs,
      facts: () => r.facts(),
    };
    return buildSummary(lane, labels, workload);
  });
}
