// Seeded random traces under random configurations: the engine's counters
// must equal the plain reference's (docs/model.md, every section).
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary, stableStringify } from '../../src/stats/summary.js';
import { Rng } from '../../src/workloads/rng.js';
import { batchOf, type Ev } from '../helpers/events.js';
import { metaOf, replayEvents, type Meta } from '../helpers/replay.js';
import { referenceReplay } from './reference.js';

const K4 = 0x1000;
const M2 = 0x200000;
const G1 = 0x40000000;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

export function randomCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed);
  const sizesChoices = [['4K'], ['4K', '2M'], ['4K', '2M', '1G'], ['4K', '64K', '2M'], ['16K', '32M'], ['4K', '8K', '2M', '1G']];
  const twoInst = rng.chance(0.5);
  // 0x10400 (PCI segment 1) and domain 0x80000005 below take the slot indexes' Map path (ids >= 2^16).
  const devices = [0x100, 0x200, 0x300, 0x10400].slice(0, 1 + rng.int(4));
  const config: Record<string, unknown> = {
    pageSizes: pick(rng, sizesChoices),
    svaPageSizes: pick(rng, sizesChoices),
    iotlb: { sets: pick(rng, [1, 2, 4]), ways: pick(rng, [1, 2, 4]), policy: pick(rng, ['lru', 'fifo', 'plru', 'random', 'flush-when-full']) },
    devtlb: { sets: 1, ways: pick(rng, [1, 2, 4]), policy: pick(rng, ['lru', 'fifo', 'plru', 'random']) },
    partialUnmap: pick(rng, ['whole-leaf', 'reject', 'split']),
    invalidation: { mode: pick(rng, ['strict', 'lazy']), maxInvalidationMask: rng.int(12), fqSize: 1 + rng.int(4), fqTimeoutNs: pick(rng, [5, 50, 1000]) },
    domainIds: 3 + rng.int(4),
    pageTable: { levels: pick(rng, [4, 5]) },
    seed: rng.int(100),
  };
  if (twoInst) config.iommus = [{ name: 'a' }, { name: 'b', pageSizes: pick(rng, sizesChoices) }];
  const devCfg: Record<string, unknown> = {};
  for (const d of devices) {
    const entry: Record<string, unknown> = {};
    if (rng.chance(0.4)) entry.devtlb = true;
    if (twoInst && rng.chance(0.5)) entry.iommu = 'b';
    if (Object.keys(entry).length) devCfg[String(d)] = entry;
  }
  config.devices = devCfg;
  const types = ['paging', 'paging', 'paging', 'identity', 'blocked', 'sva'] as const;
  const domains: Record<number, (typeof types)[number]> = {};
  for (let id = 1; id <= 5; id++) domains[id] = pick(rng, types);
  const addrs = [0, K4, 2 * K4, 16 * K4, M2 - K4, M2, M2 + K4, 2 * M2, 3 * M2 - 2 * K4, G1 - M2, G1, 2 ** 47, 2 ** 48];
  // Sizes stay small enough for the reference's linear scans (a 1G map of 4K pages is 262144 leaves).
  const sizes = [0, K4, 2 * K4, 16 * K4, 64 * K4, M2, M2 + K4, 2 * M2, 3 * M2, 100];
  const events: Ev[] = [];
  let ts = 0;
  // Most devices start attached, so that DMA translates and caches fill.
  const attachedTo = new Map<string, number>();
  for (const device of devices) {
    if (rng.chance(0.8)) {
      const domain = 1 + rng.int(5);
      events.push({ ts, op: 'attach', device, pasid: 0, domain });
      attachedTo.set(`${device}:0`, domain);
    }
    if (rng.chance(0.4)) {
      const pasid = 1 + rng.int(2);
      const domain = 1 + rng.int(5);
      events.push({ ts, op: 'attach', device, pasid, domain });
      attachedTo.set(`${device}:${pasid}`, domain);
    }
  }
  const mapped: { domain: number; iova: number; size: number }[] = [];
  const n = 40 + rng.int(160);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 0, 1, 3, 20, 200]);
    const op = rng.weighted(['dma_read', 'dma_write', 'map', 'unmap', 'attach', 'detach', 'flush'] as const, [40, 10, 18, 12, 8, 3, 2]);
    const device = pick(rng, devices);
    const pasid = rng.chance(0.7) ? 0 : 1 + rng.int(2);
    let domain = rng.chance(0.5) && attachedTo.size ? pick(rng, [...attachedTo.values()]) : 1 + rng.int(5);
    let iova = pick(rng, addrs) + (rng.chance(0.1) ? 0x800 : 0);
    // DMA aims at what its (device, pasid)'s domain mapped; unmaps at earlier maps.
    const target = op.startsWith('dma') ? attachedTo.get(`${device}:${pasid}`) : op === 'unmap' ? domain : undefined;
    const candidates = mapped.filter((m) => target === undefined || m.domain === target);
    if ((op.startsWith('dma') || op === 'unmap') && candidates.length && rng.chance(0.85)) {
      const m = pick(rng, candidates);
      if (op === 'unmap') domain = m.domain;
      iova = op === 'unmap' && rng.chance(0.6) ? m.iova : m.iova + rng.int(Math.max(1, Math.floor(m.size / K4))) * K4;
    }
    if (op === 'attach') attachedTo.set(`${device}:${pasid}`, domain);
    if (op === 'detach') attachedTo.delete(`${device}:${pasid}`);
    const congruent = rng.chance(0.6);
    const paddr = congruent ? iova + pick(rng, [0, G1, 4 * G1]) : pick(rng, addrs) + pick(rng, [0, K4]);
    let size = op.startsWith('dma') ? pick(rng, [0, 1, 64, K4, 3 * K4, M2 + 5]) : pick(rng, sizes);
    if (op === 'map' && rng.chance(0.05) && iova % G1 === 0) size = G1 + M2; // 1G pages where allowed
    if (op === 'map') mapped.push({ domain, iova, size });
    events.push({ ts, op, device, pasid, domain, iova, paddr, size });
  }
  const BIG = 0x80000005;
  for (const e of events) if (e.domain === 5) e.domain = BIG;
  domains[BIG] = domains[5];
  delete domains[5];
  return { events, config, meta: { domains } };
}

// 600 cases in 30 tests of 20 seeds: each test stays a second or two of CPU,
// well inside the time limit on a loaded machine (issue 13, item 1).
const CASES = 600;
const SEEDS_PER_TEST = 20;
const SEED_GROUPS = Array.from({ length: CASES / SEEDS_PER_TEST }, (_, g) => [g * SEEDS_PER_TEST + 1, (g + 1) * SEEDS_PER_TEST] as const);

describe('engine equals the plain reference on seeded random traces', () => {
  it.each(SEED_GROUPS)('seeds %i..%i: random traces and configurations give identical counters', (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const s = replayEvents(events, config, meta);
      const r = referenceReplay(events, resolveConfig(config, 'property'), metaOf(meta));
      const t = s.totals;
      const got = {
        dma: t.dma,
        iotlb: { lookups: t.iotlb.lookups, hits: t.iotlb.hits, staleHits: t.iotlb.staleHits, invalidatedMisses: t.iotlb.invalidatedMisses },
        devtlb: { lookups: t.devtlb.lookups, hits: t.devtlb.hits },
        walks: { count: t.walks.count, memoryAccesses: t.walks.memoryAccesses },
        map: { ...t.map, pages: nonZero(t.map.pages) },
        unmap: { ops: t.unmap.ops, errors: t.unmap.errors, short: t.unmap.short, bytes: t.unmap.bytes, pages: nonZero(t.unmap.pages) },
        attach: t.attach,
        invalidation: {
          syncs: t.invalidation.syncs,
          commands: t.invalidation.commands,
          entriesRemoved: t.invalidation.entriesRemoved,
          flushes: t.invalidation.flushes,
          staleWindowMaxNs: t.invalidation.staleWindowMaxNs,
        },
        peakTablePages: t.pageTable.peakTablePages,
      };
      const want = {
        ...r,
        map: { ...r.map, pages: nonZero(r.map.pages) },
        unmap: { ...r.unmap, pages: nonZero(r.unmap.pages) },
        invalidation: { syncs: r.invalidation.syncs, commands: r.invalidation.commands, entriesRemoved: r.invalidation.entriesRemoved, flushes: r.invalidation.flushes, staleWindowMaxNs: r.invalidation.staleWindowMaxNs },
      };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        expect({ seed, ...got }).toEqual({ seed, ...want });
      }
    }
  });
});

describe('replaying a batch in slices', () => {
  it.each([[1, 25], [26, 50], [51, 75], [76, 100]] as const)('seeds %i..%i: consume(batch, from, to) over any cut of the rows gives the summary of the whole batch', (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const whole = new Replay(resolveConfig(config, 'property'), metaOf(meta));
      whole.consume(batchOf(events));
      const sliced = new Replay(resolveConfig(config, 'property'), metaOf(meta));
      const batch = batchOf(events);
      const rng = new Rng(seed);
      for (let from = 0; from < events.length; ) {
        const to = Math.min(events.length, from + rng.int(20));
        sliced.consume(batch, from, to); // an empty slice included
        from = to;
      }
      expect(stableStringify(buildSummary(sliced, ['t']))).toBe(stableStringify(buildSummary(whole, ['t'])));
    }
  });
});

function nonZero(pages: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pages).filter(([, v]) => v !== 0).sort());
}
