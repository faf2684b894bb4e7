// The batch loop of strict VT-d and AMD replays (model/batchloop.ts) against
// the general handlers it shortcuts (ReplayLimits.genericMapping, with the
// generic DMA loop too), on seeded NIC-like traces: every counter of the
// summary must be the same, byte for byte. The traces mix the rows the loop
// takes (maps of 1-16 pages into existing level-1 tables, strict one-page
// unmaps of one attachment) with the ones it must leave to the general
// handlers, beside them: first maps into a new level-1 table, maps past 16
// pages or over a mapped page, multi-page unmaps and unmaps of holes,
// unaligned rows, a 2M leaf, identity and blocked domains, a second
// attachment, nested domains (VT-d), device TLBs, walk caches, AMD's
// NpCache, detach and re-attach, flushes. Batches are cut at random rows.
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { batchWarmUp } from '../../src/model/batchloop.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import { K4, M2, batchOf, type Ev } from '../helpers/events.js';
import { metaOf, type Meta } from '../helpers/replay.js';

interface Case {
  events: Ev[];
  config: Record<string, unknown>;
  meta: Meta;
  cuts: number[];
  /** batchWarmUp.calls for this case's replays. */
  warmCalls: number;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function summaryOf(c: Case, reference: boolean): { summary: string; batched: boolean } {
  // Short warm-up calls (Replay.consume's BATCH_WARM_ROWS) for none, a few or all of the rows.
  batchWarmUp.calls = c.warmCalls;
  const r = new Replay(resolveConfig(c.config, 'batchloop'), metaOf(c.meta), reference ? { generic: true, genericMapping: true } : {});
  const batch = batchOf(c.events);
  let from = 0;
  for (const cut of [...c.cuts, c.events.length]) {
    r.consume(batch, from, cut);
    from = cut;
  }
  return { summary: stableStringify(buildSummary(r, ['t'])), batched: r.batched };
}

function expectSame(seed: number, c: Case): void {
  const want = summaryOf(c, true);
  const got = summaryOf(c, false);
  expect(want.batched).toBe(false);
  expect(got.batched).toBe(
    c.config.invalidation !== undefined && (c.config.invalidation as { mode: string }).mode === 'strict' && c.config.vendor !== 'smmuv3',
  );
  if (got.summary !== want.summary) expect({ seed, got: got.summary }).toEqual({ seed, got: want.summary });
}

/**
 * A NIC's trace (two devices, each on its own domain, buffers of one to a
 * few pages mapped, read or written, unmapped), with the rows the batch loop
 * leaves to the general handlers beside them.
 */
function nicCase(seed: number, vendor: 'vtd' | 'amd' | 'smmuv3', mode: 'strict' | 'lazy'): Case {
  const rng = new Rng(seed * 15485863 + 7);
  const nested = vendor === 'vtd' && rng.chance(0.25);
  const config: Record<string, unknown> = {
    vendor,
    pageSizes: pick(rng, vendor === 'amd' ? [['4K'], ['4K', '2M'], ['4K', '64K', '2M'], ['4K', '2M', '1G']] : [['4K'], ['4K', '2M'], ['4K', '2M', '1G']]),
    iotlb: { sets: pick(rng, [1, 4, 16]), ways: pick(rng, [1, 2, 8]), policy: pick(rng, ['lru', 'fifo', 'random']) },
    devtlb: { sets: 1, ways: pick(rng, [1, 4]), policy: 'lru' },
    partialUnmap: pick(rng, ['whole-leaf', 'reject', 'split']),
    invalidation: { mode, maxInvalidationMask: rng.int(5), fqSize: 1 + rng.int(8), fqTimeoutNs: pick(rng, [50, 1000, 1e6]) },
    devices: { '256': { devtlb: rng.chance(0.3) }, '512': { devtlb: rng.chance(0.3) } },
  };
  if (rng.chance(0.3)) config.walkCache = { sets: 1, ways: pick(rng, [2, 8]), policy: 'lru' };
  if (vendor === 'amd') config.amd = { npCache: rng.chance(0.3) };
  const domains: Meta['domains'] = { 4: 'identity', 5: 'blocked' };
  if (nested) domains[3] = { type: 'nested', parent: 2 };
  const events: Ev[] = [];
  let ts = 0;
  const dev2Domain = nested ? 3 : 2;
  events.push({ ts, op: 'attach', device: 0x100, pasid: 0, domain: 1 });
  events.push({ ts, op: 'attach', device: 0x200, pasid: 0, domain: dev2Domain });
  // IOVAs past 2^32 pages sometimes (page numbers that are no small integers), near 2M boundaries.
  const high = rng.chance(0.5) ? 0xffff_0000_0000 : 0;
  const base = [high + 0x10000000 + M2 - 24 * K4, high + 0x20000000 + M2 - 24 * K4];
  const live: { domain: number; iova: number; pages: number }[] = [];
  const n = 200 + rng.int(300);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 1, 10, 100, 2000]);
    const r = rng.int(100);
    const domain = nested ? pick(rng, [1, 2, 3]) : pick(rng, [1, 1, 2]);
    const device = domain === 1 ? 0x100 : 0x200;
    if (r < 30) {
      const pages = rng.chance(0.7) ? 1 : rng.chance(0.8) ? 2 + rng.int(15) : 17 + rng.int(4);
      const iova = base[domain & 1] + rng.int(48) * K4;
      live.push({ domain, iova, pages });
      events.push({ ts, op: 'map', domain, iova, paddr: iova + pick(rng, [0, 5 * K4, M2]), size: pages * K4, mapMore: rng.chance(0.1) ? 1 : 0 });
    } else if (r < 58 && live.length > 0) {
      const m = live.splice(rng.int(live.length), 1)[0];
      const dev = m.domain === 1 ? 0x100 : 0x200;
      for (let k = rng.int(4); k >= 0; k--)
        events.push({
          ts,
          op: pick(rng, ['dma_read', 'dma_write'] as const),
          device: dev,
          pasid: 0,
          iova: m.iova + rng.int(m.pages) * K4,
          size: pick(rng, [64, 1500, K4]),
        });
      if (rng.chance(0.9)) events.push({ ts: ts + 1, op: 'unmap', domain: m.domain, iova: m.iova, size: (rng.chance(0.85) ? m.pages : 1) * K4 });
    } else if (r < 66) {
      // A hole, an unaligned row, an identity or blocked domain, a page of a 2M leaf, a zero size.
      const what = rng.int(6);
      const iova = base[domain & 1] + rng.int(48) * K4;
      if (what === 0) events.push({ ts, op: 'unmap', domain, iova, size: K4 });
      else if (what === 1) events.push({ ts, op: pick(rng, ['unmap', 'map'] as const), domain, iova: iova + 0x800, paddr: iova, size: K4 });
      else if (what === 2) events.push({ ts, op: pick(rng, ['unmap', 'map'] as const), domain: pick(rng, [4, 5]), iova, paddr: iova, size: K4 });
      else if (what === 3) events.push({ ts, op: pick(rng, ['unmap', 'map'] as const), domain, iova, paddr: iova, size: 0 });
      else {
        events.push({ ts, op: 'map', domain, iova: high + 0x40000000, paddr: 0x40000000, size: M2 });
        events.push({ ts, op: 'dma_read', device, pasid: 0, iova: high + 0x40000000 + rng.int(512) * K4, size: 64 });
        events.push({ ts, op: 'unmap', domain, iova: high + 0x40000000 + rng.int(512) * K4, size: K4 });
      }
    } else if (r < 69) {
      events.push({ ts, op: 'flush', domain });
    } else if (r < 72) {
      // Detach and re-attach, or a second attachment of the domain (two tags to sync).
      const dev = pick(rng, [0x100, 0x200]);
      if (rng.chance(0.5)) events.push({ ts, op: 'detach', device: dev, pasid: 0 });
      events.push({ ts, op: 'attach', device: dev, pasid: pick(rng, [0, 0, 1]), domain: dev === 0x100 ? 1 : dev2Domain });
    } else if (live.length > 0) {
      const m = pick(rng, live);
      events.push({ ts, op: 'dma_read', device: m.domain === 1 ? 0x100 : 0x200, pasid: 0, iova: m.iova, size: 64 });
    }
  }
  const cuts = Array.from({ length: rng.int(4) }, () => rng.int(events.length)).sort((x, y) => x - y);
  return { events, config, meta: { domains }, cuts, warmCalls: pick(rng, [0, 3, 2 ** 14]) };
}

const GROUPS = Array.from({ length: 6 }, (_, g) => [g * 20 + 1, g * 20 + 20] as const);

describe('the batch loop equals the general handlers', () => {
  const warmCalls = batchWarmUp.calls;
  afterAll(() => {
    batchWarmUp.calls = warmCalls;
  });

  it.each((['vtd', 'amd'] as const).flatMap((v) => GROUPS.map(([first, last]) => [v, first, last] as const)))(
    'strict %s NIC traces, seeds %i..%i: identical summaries',
    (vendor, first, last) => {
      for (let seed = first; seed <= last; seed++) expectSame(seed, nicCase(seed, vendor, 'strict'));
    },
  );

  // The loop had read the domain counters once a call: a 17th domain (the counters
  // grow past 16 domain slots into a new array) mid-call sent the rest of the
  // call's inline map and unmap counts to the array left behind.
  it.each((['vtd', 'amd'] as const).flatMap((v) => [0, 2, 1 << 20].map((w) => [v, w] as const)))(
    'strict %s, warm-up calls %i: a new domain mid-call grows the counters, and the inline maps and unmaps after it still count',
    (vendor, warm) => {
      const events: Ev[] = [
        { op: 'attach', device: 0x100, pasid: 0, domain: 1 },
        { op: 'map', domain: 1, iova: 0x100000, paddr: 0x500000, size: K4 },
      ];
      for (let d = 2; d <= 40; d++) {
        events.push({ op: 'attach', device: 0x100 + d, pasid: 0, domain: d });
        const iova = 0x100000 + d * 8 * K4;
        events.push({ op: 'map', domain: 1, iova, paddr: 0x500000 + d * 8 * K4, size: d % 2 === 0 ? K4 : 4 * K4 });
        events.push({ op: 'dma_read', device: 0x100, pasid: 0, iova, size: 64 });
        events.push({ op: 'unmap', domain: 1, iova, size: d % 2 === 0 ? K4 : 4 * K4 });
      }
      events.forEach((e, i) => (e.ts = i));
      const c: Case = { events, config: { vendor, invalidation: { mode: 'strict' } }, meta: {}, cuts: [], warmCalls: warm };
      expectSame(warm, c);
      const got = JSON.parse(summaryOf(c, false).summary) as { totals: { map: { ops: number }; unmap: { ops: number }; invalidation: { syncs: number } } };
      expect([got.totals.map.ops, got.totals.unmap.ops, got.totals.invalidation.syncs]).toEqual([40, 39, 39]);
    },
  );

  it.each([['vtd', 'lazy'] as const, ['amd', 'lazy'] as const, ['smmuv3', 'strict'] as const, ['smmuv3', 'lazy'] as const])(
    '%s %s (no batch loop): identical summaries',
    (vendor, mode) => {
      for (let seed = 1; seed <= 20; seed++) expectSame(seed, nicCase(seed, vendor, mode));
    },
  );
});
