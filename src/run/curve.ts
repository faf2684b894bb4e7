// Miss-ratio curves: the counters of `replay` at every IOTLB size up to N.
//
// Fully associative LRU: the stack-distance profiler (caches/stack.ts) stands
// in for every instance's IOTLB, so one pass over the trace gives every size
// from 1 to N; the rest of the model is the replay's own. When sizes part ways
// (a stale hit at some sizes is a walk at the smaller ones), the smaller sizes
// are handed back and replayed again from the start as a group of their own:
// every size is exact, and a trace with no such lookup takes one pass.
//
// Set-associative LRU and the policies without the stack property (fifo,
// plru, random) are replayed as points: one decode, one table per size.
import type { PolicyName, ReplayConfig } from '../config/config.js';
import { CurveGroup, StackIotlb } from '../caches/stack.js';
import { InputError } from '../errors.js';
import { MemoryLimitError, formatBytes } from '../config/limits.js';
import { DEFAULT_MAX_TABLE_BYTES } from '../model/tablememory.js';
import { buildSummary, operationCounts, ratio, translationCostNs, type OperationCounts, type Summary } from '../stats/summary.js';
import { Replay, type ReplayLimits } from '../model/replay.js';
import { replayPointsFed, runReplays, type Feed } from './run.js';

/** The largest IOTLB size a curve goes to: above it the stack's arrays and the report grow large for little insight. */
export const MAX_CURVE_ENTRIES = 1 << 20;

/** The counters of one curve point: those `replay` reports at that geometry. */
export interface CurveCounters {
  entries: number;
  sets: number;
  lookups: number;
  hits: number;
  misses: number;
  staleHits: number;
  walks: number;
  walkAccesses: number;
  faults: number;
  /** hits / lookups; null when there were no lookups (n/a, as in replay's summary). */
  hitRate: number | null;
  translationCostNs: number;
}

export interface CurveResult {
  /** lru or opt or a point policy. */
  policy: PolicyName | 'opt';
  /** 0: fully associative. */
  ways: number;
  method: 'stack' | 'points';
  points: CurveCounters[];
  /**
   * The page sizes of the translations the IOTLB held (sizes with lookups),
   * smallest first: the same at every size, since the IOTLB does not change
   * how the trace is mapped. A knee's reach is its entries times these
   * (docs/curves.md), not times every size the bitmap allows.
   */
  pageSizesUsed: string[];
  /** stack: size groups replayed (1 when no sizes parted ways) and passes over the trace. */
  groups?: number;
  passes?: number;
  /**
   * stack: size ranges whose counters are approximate because the group
   * budget ran out (empty: every size exact).
   */
  approximate?: [number, number][];
  /**
   * Lazy mode: the maps that reused an IOVA still in the flush queue (and
   * their pages), with the successful maps they are counted among (model §5;
   * the same at every size: the IOTLB does not change the maps). Absent in
   * strict mode.
   */
  reusedBeforeFlush?: { maps: number; pages: number; successfulMaps: number };
  /**
   * The trace's DMA events and its map, unmap and attach operations with their
   * failures, for the curve's warning line and report note. The line once took
   * the IOTLB lookups (pages translated) for the DMA events and named no
   * failed operation, which replay's and sweep's lines name.
   */
  ops: OperationCounts;
}

/** CurveResult.reusedBeforeFlush of a replay's summary (lazy mode only). */
export function reusedOf(s: Summary): Pick<CurveResult, 'reusedBeforeFlush'> {
  const r = s.totals.invalidation.reusedBeforeFlush;
  return r ? { reusedBeforeFlush: { maps: r.maps, pages: r.pages, successfulMaps: s.totals.map.ops - s.totals.map.errors } } : {};
}

/** Merges overlapping or adjacent [lo, hi] ranges. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export interface CurveProgress {
  onProgress?: (eventsDone: number) => void;
}

/** Feeds a trace, once, to the replays `make` builds for its metadata. */
export type { Feed };

/** The feed of trace files (several files form one trace, as for `replay`). */
export function fileFeed(paths: string[], opts: CurveProgress = {}): Feed {
  return (make) => runReplays(paths, make, opts);
}

function counters(
  entries: number,
  sets: number,
  c: Omit<CurveCounters, 'entries' | 'sets' | 'misses' | 'hitRate' | 'translationCostNs'>,
  cfg: ReplayConfig,
): CurveCounters {
  return {
    entries,
    sets,
    ...c,
    misses: c.lookups - c.hits,
    hitRate: ratio(c.hits, c.lookups), // null (n/a) at no lookups, as replay's (summary.ts)
    translationCostNs: translationCostNs(c.hits, c.walkAccesses, cfg.costs),
  };
}

function fromSummary(entries: number, sets: number, s: Summary, cfg: ReplayConfig): CurveCounters {
  const t = s.totals;
  return counters(
    entries,
    sets,
    {
      lookups: t.iotlb.lookups,
      hits: t.iotlb.hits,
      staleHits: t.iotlb.staleHits,
      walks: t.walks.count,
      walkAccesses: t.walks.memoryAccesses,
      faults: t.dma.faults,
    },
    cfg,
  );
}

/** The page sizes a replay's IOTLB lookups were of, smallest first (CurveResult.pageSizesUsed). */
export function pageSizesUsed(s: Summary): string[] {
  return s.byPageSize.filter((p) => p.lookups > 0).map((p) => p.pageSize);
}

/** `config` with an IOTLB of `sets` x `ways` under `policy`. */
export function withIotlb(config: ReplayConfig, sets: number, ways: number, policy: PolicyName): ReplayConfig {
  return { ...config, iotlb: { entries: sets * ways, sets, ways, policy } };
}

/**
 * Memory a curve point takes from its computation to the outputs: its
 * counters (an object of 11 numbers), its row in curves.arrow's columns and
 * again in the file's bytes, and the report's copies. Measured: a
 * 2^20-size curve peaks about 580 MB over the process' start.
 */
export const CURVE_POINT_BYTES = 600;

/** The points of a task's curves at most (stack and OPT: every size; points: the geometries). */
export function curvePointsOf(maxEntries: number, policy: PolicyName, ways: number, opt: boolean): number {
  const main = policy === 'lru' && ways === 0 ? maxEntries : pointGeometries(ways, maxEntries).length;
  return main + (opt ? maxEntries : 0);
}

/**
 * Refuses, before any work, curves whose points would not fit in the memory
 * limit (--max-table-memory; issue 25: a 2^20-size curve was killed at
 * 1.46 GB): one line naming the sizes asked for and the limit.
 */
export function checkCurvePoints(points: number, curves: string, maxTableBytes = DEFAULT_MAX_TABLE_BYTES): void {
  const need = points * CURVE_POINT_BYTES;
  if (need > maxTableBytes)
    throw new MemoryLimitError(
      `Invalid option --max-entries: ${curves} (${points.toLocaleString('en-US')} points) need about ${formatBytes(need)}, over the ${formatBytes(maxTableBytes)} limit; lower --max-entries or raise --max-table-memory`,
    );
}

/** Rejects what a curve cannot follow (InputError). */
export function checkCurveConfig(config: ReplayConfig, source = config.name): void {
  // Walk caches change walk costs by history the stack does not follow.
  if (config.walkCache) throw new InputError(`Invalid config "${source}": walkCache: curves do not follow walk caches; remove it`);
}

/**
 * Every fully associative LRU size 1..maxEntries by the stack profiler: exact
 * while at most `maxGroups` size groups are needed (each one more replay of
 * the trace); past that, sizes that part ways follow the larger sizes and are
 * listed as approximate.
 */
export async function lruStackCurve(
  feed: Feed,
  config: ReplayConfig,
  maxEntries: number,
  maxGroups = Infinity,
  limits: ReplayLimits = {},
): Promise<CurveResult> {
  checkCurveConfig(config);
  const cfg = withIotlb(config, 1, maxEntries, 'lru');
  const points: CurveCounters[] = new Array(maxEntries);
  let pending: [number, number][] = [[1, maxEntries]];
  let groups = 0;
  let passes = 0;
  const budget = { remaining: maxGroups - 1 };
  const approximate: [number, number][] = [];
  let used: string[] | undefined;
  let reused: Pick<CurveResult, 'reusedBeforeFlush'> | undefined;
  let ops: OperationCounts | undefined;
  while (pending.length > 0) {
    passes++;
    const gs = pending.map(([lo, hi]) => new CurveGroup(lo, hi, budget));
    // The profiler is charged to its replay's budget, as a table is (it is made at the instance's first device, after the replay).
    const { replays, labels } = await feed((meta) =>
      gs.map((g) => {
        const replay: Replay = new Replay(cfg, meta, { ...limits, iotlbOf: (_, pool) => new StackIotlb(g, pool, g.hi, replay.budget) });
        return replay;
      }),
    );
    pending = [];
    gs.forEach((g, i) => {
      groups++;
      const summary = buildSummary(replays[i], labels);
      const t = summary.totals;
      used ??= pageSizesUsed(summary);
      reused ??= reusedOf(summary);
      ops ??= operationCounts(summary.totals);
      // Size lo's counters are the replay's; a larger size adds the lookups
      // that hit at its depth (and so did not walk).
      let gainHits = 0;
      let gainAccesses = 0;
      for (let d = 1; d < g.lo; d++) {
        gainHits += g.hitsAt(d);
        gainAccesses += g.accessesAt(d);
      }
      for (let size = g.lo; size <= g.hi; size++) {
        gainHits += g.hitsAt(size);
        gainAccesses += g.accessesAt(size);
        points[size - 1] = counters(
          size,
          1,
          {
            lookups: t.iotlb.lookups,
            hits: t.iotlb.hits + gainHits,
            staleHits: t.iotlb.staleHits,
            walks: t.walks.count - gainHits,
            walkAccesses: t.walks.memoryAccesses - gainAccesses,
            faults: t.dma.faults,
          },
          cfg,
        );
      }
      pending.push(...g.spawned);
      // Ranges marked before a later split moved sizes out stay only for the sizes kept.
      for (const [lo, hi] of g.approximate) if (hi >= g.lo) approximate.push([Math.max(lo, g.lo), hi]);
    });
  }
  return {
    policy: 'lru',
    ways: 0,
    method: 'stack',
    points,
    pageSizesUsed: used ?? [],
    groups,
    passes,
    approximate: mergeRanges(approximate),
    ...reused,
    ops: ops!, // set by the first group (a curve has at least one)
  };
}

/** The geometries a points curve replays: (sets, ways) pairs, smallest first. */
export function pointGeometries(ways: number, maxEntries: number): [number, number][] {
  const out: [number, number][] = [];
  if (ways > 0) {
    for (let sets = 1; sets * ways <= maxEntries; sets *= 2) out.push([sets, ways]);
  } else {
    // No stack property: powers of two (and N), each its own table.
    for (let e = 1; e <= maxEntries; e *= 2) out.push([1, e]);
    if (out[out.length - 1][1] !== maxEntries) out.push([1, maxEntries]);
  }
  return out;
}

/** A curve replayed as points: one decode, one table per geometry. */
export async function pointsCurve(
  feed: Feed,
  config: ReplayConfig,
  policy: PolicyName,
  ways: number,
  maxEntries: number,
  limits: ReplayLimits = {},
): Promise<CurveResult> {
  checkCurveConfig(config);
  const geoms = pointGeometries(ways, maxEntries);
  const configs = geoms.map(([sets, w]) => withIotlb(config, sets, w, policy));
  // Strict points share one replay as IOTLB lanes (caches/lanes.ts).
  const summaries = await replayPointsFed(feed, configs, limits);
  const points = summaries.map((s, i) => fromSummary(geoms[i][0] * geoms[i][1], geoms[i][0], s, configs[i]));
  return {
    policy,
    ways,
    method: 'points',
    points,
    pageSizesUsed: pageSizesUsed(summaries[0]),
    ...reusedOf(summaries[0]),
    ops: operationCounts(summaries[0].totals),
  };
}
