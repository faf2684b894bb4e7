// Curves over in-memory traces, and the replay they must equal point by point.
import { resolveConfig, type PolicyName, type ReplayConfig } from '../../src/config/config.js';
import { withIotlb, type CurveCounters, type Feed } from '../../src/run/curve.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { batchOf, type Ev } from './events.js';
import { metaOf, type Meta } from './replay.js';

/** A feed of an event list (in two batches, so that batch boundaries are crossed). */
export function memFeed(events: Ev[], meta: Meta = {}): Feed {
  return async (make) => {
    const replays = make(metaOf(meta));
    const mid = Math.floor(events.length / 2);
    const batches = [batchOf(events.slice(0, mid)), batchOf(events.slice(mid))];
    for (const b of batches) for (const r of replays) r.consume(b);
    return { replays, labels: ['t'] };
  };
}

/** What `replay` reports at one geometry, as curve counters. */
export function replayAt(
  events: Ev[],
  config: ReplayConfig | object,
  meta: Meta,
  sets: number,
  ways: number,
  policy: PolicyName = 'lru',
): Omit<CurveCounters, 'hitRate' | 'translationCostNs'> & { translationCostNs: number } {
  const cfg = withIotlb('iotlb' in config && 'costs' in config ? (config as ReplayConfig) : resolveConfig(config, 'test'), sets, ways, policy);
  const r = new Replay(cfg, metaOf(meta));
  const mid = Math.floor(events.length / 2);
  r.consume(batchOf(events.slice(0, mid)));
  r.consume(batchOf(events.slice(mid)));
  const t = buildSummary(r, ['t']).totals;
  return {
    entries: sets * ways,
    sets,
    lookups: t.iotlb.lookups,
    hits: t.iotlb.hits,
    misses: t.iotlb.lookups - t.iotlb.hits,
    staleHits: t.iotlb.staleHits,
    walks: t.walks.count,
    walkAccesses: t.walks.memoryAccesses,
    faults: t.dma.faults,
    translationCostNs: t.costNs.translation,
  };
}

/** A curve point without its derived hit rate, to compare with replayAt. */
export function countersOf(p: CurveCounters) {
  const { hitRate: _h, ...rest } = p;
  return rest;
}
