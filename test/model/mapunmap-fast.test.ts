// The fast map and unmap paths (model/mapping.ts: an unmap of one 4 KiB page
// whose leaf is that page, and the invalidator's one-page unmap under every
// vendor and mode) against the generic path they shortcut, on seeded random
// traces: every counter of the summary must be the same, byte for byte. Many
// small tests (a group of seeds each) rather than one long one.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import { K4, M2, type Ev } from '../helpers/events.js';
import { consumeInTwo, metaOf, type Meta } from '../helpers/replay.js';
import { randomCase, staleCase, vendorCase, type VendorName } from '../helpers/random-case.js';

/**
 * The summary, and the domain counters it is built from: the stale-window
 * count among them, which a strict summary shows only as a mean of 0 against
 * null, moves with each IOTLB entry marked unmapped before its removal.
 */
function summaryOf(events: Ev[], config: object, meta: Meta, genericMapping: boolean): string {
  const r = new Replay(resolveConfig(config, 'mapunmap'), metaOf(meta), { genericMapping });
  consumeInTwo(r, events);
  return stableStringify({ summary: buildSummary(r, ['t']), domainCounters: Array.from(r.counters.domain) });
}

/** The seed's case replayed both ways: the fast paths must change nothing. */
function expectSame(seed: number, c: { events: Ev[]; config: Record<string, unknown>; meta: Meta }): void {
  const want = summaryOf(c.events, c.config, c.meta, true);
  const got = summaryOf(c.events, c.config, c.meta, false);
  if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

const VENDORS: VendorName[] = ['vtd', 'amd', 'smmuv3'];

/**
 * A streaming workload's trace (the NIC's): mostly one-page maps, a DMA or
 * two, and one-page unmaps, with what the fast path must leave to the generic
 * one beside them: multi-page buffers, unmaps of holes and of pages inside a
 * 2M leaf, unaligned rows, unmaps in identity and blocked domains, device
 * TLBs, a second device on the same domain (two tags to sync), detach and
 * re-attach (SMMUv3 keeps the old tag), flushes; under VT-d sometimes a
 * nested domain over a parent, whose stage-2 unmaps are strict in lazy mode.
 */
function streamCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 104729 + 3);
  const vendor = pick(rng, VENDORS);
  const mode = pick(rng, ['strict', 'lazy'] as const);
  const nested = vendor === 'vtd' && rng.chance(0.3);
  const config: Record<string, unknown> = {
    vendor,
    pageSizes: pick(rng, [['4K'], ['4K', '2M'], ['4K', '2M', '1G']]),
    iotlb: { sets: pick(rng, [1, 2, 16]), ways: pick(rng, [1, 4]), policy: pick(rng, ['lru', 'fifo', 'random']) },
    devtlb: { sets: 1, ways: pick(rng, [1, 4]), policy: 'lru' },
    partialUnmap: pick(rng, ['whole-leaf', 'reject', 'split']),
    invalidation: { mode, maxInvalidationMask: rng.int(4), fqSize: 1 + rng.int(8), fqTimeoutNs: pick(rng, [50, 1000, 1e6]) },
    devices: { '256': { devtlb: rng.chance(0.4) }, '512': { devtlb: rng.chance(0.4) } },
  };
  if (vendor === 'amd') config.amd = { npCache: rng.chance(0.4) };
  if (vendor === 'smmuv3') config.smmu = { rangeInvalidation: rng.chance(0.6), forceSyncErratum: rng.chance(0.4), asidBits: 16 };
  const domains: Meta['domains'] = { 4: 'identity', 5: 'blocked' };
  if (nested) domains[3] = { type: 'nested', parent: 2 };
  const events: Ev[] = [];
  let ts = 0;
  const dev2Domain = nested ? 3 : pick(rng, [1, 2]);
  events.push({ ts, op: 'attach', device: 0x100, pasid: 0, domain: 1 });
  events.push({ ts, op: 'attach', device: 0x200, pasid: 0, domain: dev2Domain });
  const base = [0x10000000, 0x20000000];
  const live: { domain: number; iova: number; pages: number }[] = [];
  const n = 150 + rng.int(250);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 1, 10, 100, 2000]);
    const r = rng.int(100);
    const domain = nested ? pick(rng, [1, 2, 3]) : pick(rng, [1, 1, 2]);
    if (r < 30) {
      const pages = rng.chance(0.85) ? 1 : 2 + rng.int(3);
      const iova = base[domain & 1] + rng.int(48) * K4;
      live.push({ domain, iova, pages });
      events.push({ ts, op: 'map', domain, iova, paddr: iova + pick(rng, [0, M2]), size: pages * K4 });
    } else if (r < 55 && live.length > 0) {
      const m = live.splice(rng.int(live.length), 1)[0];
      const device = m.domain === 1 ? 0x100 : 0x200;
      events.push({ ts, op: pick(rng, ['dma_read', 'dma_write'] as const), device, pasid: 0, iova: m.iova, size: pick(rng, [64, 1500, K4]) });
      // Most buffers go whole; some stay (a later unmap may hit a hole), some go in part.
      if (rng.chance(0.9)) events.push({ ts: ts + 1, op: 'unmap', domain: m.domain, iova: m.iova, size: (rng.chance(0.9) ? m.pages : 1) * K4 });
    } else if (r < 62) {
      // A hole, an unaligned row, an identity or blocked domain, a page of a 2M leaf.
      const what = rng.int(4);
      const iova = base[domain & 1] + rng.int(48) * K4;
      if (what === 0) events.push({ ts, op: 'unmap', domain, iova, size: K4 });
      else if (what === 1) events.push({ ts, op: 'unmap', domain, iova: iova + 0x800, size: K4 });
      else if (what === 2) events.push({ ts, op: 'unmap', domain: pick(rng, [4, 5]), iova, size: K4 });
      else {
        events.push({ ts, op: 'map', domain, iova: 0x40000000, paddr: 0x40000000, size: M2 });
        events.push({ ts, op: 'dma_read', device: domain === 1 ? 0x100 : 0x200, pasid: 0, iova: 0x40000000 + rng.int(512) * K4, size: 64 });
        events.push({ ts, op: 'unmap', domain, iova: 0x40000000 + rng.int(512) * K4, size: K4 });
      }
    } else if (r < 66) {
      events.push({ ts, op: 'flush', domain });
    } else if (r < 69) {
      // Detach and re-attach, or a second attachment of the domain.
      const device = pick(rng, [0x100, 0x200]);
      if (rng.chance(0.5)) events.push({ ts, op: 'detach', device, pasid: 0 });
      events.push({ ts, op: 'attach', device, pasid: pick(rng, [0, 1]), domain: device === 0x100 ? 1 : dev2Domain });
    } else if (live.length > 0) {
      const m = pick(rng, live);
      events.push({ ts, op: 'dma_read', device: m.domain === 1 ? 0x100 : 0x200, pasid: 0, iova: m.iova, size: 64 });
    }
  }
  return { events, config, meta: { domains } };
}

/**
 * Multi-page buffers (the few-pages map and unmap paths, model/mapping.ts):
 * maps of 1..20 pages (past FEW_PAGES_MAX too) near 2 MiB boundaries, so
 * that a buffer may need a new level-1 table or span two, overlapping maps
 * (EEXIST), unmaps of whole buffers, of their middle, of ranges with a hole
 * or a 2M leaf in them, under every vendor and mode, with 4K alone or with
 * 2M pages (a 2M size stops no chunk below 512 pages) or AMD's 64K.
 */
function buffersCase(seed: number): { events: Ev[]; config: Record<string, unknown>; meta: Meta } {
  const rng = new Rng(seed * 7919 + 11);
  const vendor = pick(rng, VENDORS);
  const mode = pick(rng, ['strict', 'lazy'] as const);
  const config: Record<string, unknown> = {
    vendor,
    // A 64K size (AMD's replicated entries) stops 4K chunks at 16 pages.
    pageSizes: pick(rng, vendor === 'amd' ? [['4K'], ['4K', '2M'], ['4K', '64K', '2M']] : [['4K'], ['4K', '2M']]),
    iotlb: { sets: pick(rng, [1, 4]), ways: pick(rng, [2, 8]), policy: pick(rng, ['lru', 'fifo']) },
    devtlb: { sets: 1, ways: 4, policy: 'lru' },
    partialUnmap: pick(rng, ['whole-leaf', 'reject', 'split']),
    invalidation: { mode, maxInvalidationMask: rng.int(6), fqSize: 1 + rng.int(4), fqTimeoutNs: pick(rng, [100, 1e6]) },
    devices: { '256': { devtlb: rng.chance(0.5) } },
  };
  if (vendor === 'amd') config.amd = { npCache: rng.chance(0.5) };
  if (vendor === 'smmuv3') config.smmu = { rangeInvalidation: rng.chance(0.5), forceSyncErratum: rng.chance(0.3), asidBits: 16 };
  const events: Ev[] = [];
  let ts = 0;
  events.push({ ts, op: 'attach', device: 0x100, pasid: 0, domain: 1 });
  if (rng.chance(0.5)) events.push({ ts, op: 'attach', device: 0x200, pasid: 0, domain: 1 });
  // Near the end of one 2 MiB region and into the next (a new level-1 table).
  const base = 0x10000000 + M2 - 8 * K4 + (rng.chance(0.3) ? 64 * M2 : 0);
  const live: { iova: number; pages: number }[] = [];
  const n = 100 + rng.int(150);
  for (let i = 0; i < n; i++) {
    ts += pick(rng, [0, 1, 50, 500]);
    const r = rng.int(100);
    if (r < 35) {
      const pages = rng.chance(0.9) ? 1 + rng.int(6) : 7 + rng.int(14);
      const iova = base + rng.int(24) * K4;
      live.push({ iova, pages });
      events.push({ ts, op: 'map', domain: 1, iova, paddr: iova + pick(rng, [0, 3 * K4, M2]), size: pages * K4, mapMore: rng.chance(0.1) ? 1 : 0 });
    } else if (r < 70 && live.length > 0) {
      const m = live.splice(rng.int(live.length), 1)[0];
      events.push({ ts, op: 'dma_write', device: 0x100, pasid: 0, iova: m.iova, size: m.pages * K4 });
      const skip = rng.chance(0.8) ? 0 : rng.int(m.pages);
      const pages = rng.chance(0.8) ? m.pages - skip : 1 + rng.int(m.pages);
      events.push({ ts: ts + 1, op: 'unmap', domain: 1, iova: m.iova + skip * K4, size: pages * K4 });
    } else if (r < 78) {
      // A range over a hole, or over pages of a 2M leaf.
      if (rng.chance(0.5)) events.push({ ts, op: 'unmap', domain: 1, iova: base + rng.int(24) * K4, size: (2 + rng.int(4)) * K4 });
      else {
        events.push({ ts, op: 'map', domain: 1, iova: 0x40000000, paddr: 0x40000000, size: M2 });
        events.push({ ts, op: 'dma_read', device: 0x100, pasid: 0, iova: 0x40000000 + rng.int(512) * K4, size: 64 });
        events.push({ ts, op: 'unmap', domain: 1, iova: 0x40000000 + rng.int(508) * K4, size: (1 + rng.int(4)) * K4 });
      }
    } else if (r < 82) {
      events.push({ ts, op: 'flush', domain: 1 });
    } else if (live.length > 0) {
      const m = pick(rng, live);
      events.push({ ts, op: 'dma_read', device: pick(rng, [0x100, 0x200]), pasid: 0, iova: m.iova + rng.int(m.pages) * K4, size: 64 });
    }
  }
  return { events, config, meta: {} };
}

const GROUPS = Array.from({ length: 8 }, (_, g) => [g * 25 + 1, g * 25 + 25] as const);

describe('fast map and unmap paths equal the generic path', () => {
  it.each(GROUPS)('streaming traces (one-page maps and unmaps), seeds %i..%i: identical summaries', (first, last) => {
    for (let seed = first; seed <= last; seed++) expectSame(seed, streamCase(seed));
  });

  it.each(GROUPS)('multi-page buffers (few-pages maps and unmaps), seeds %i..%i: identical summaries', (first, last) => {
    for (let seed = first; seed <= last; seed++) expectSame(seed, buffersCase(seed));
  });

  it.each(GROUPS.slice(0, 4))('random traces, seeds %i..%i: identical summaries', (first, last) => {
    for (let seed = first; seed <= last; seed++) expectSame(seed, randomCase(seed));
  });

  it.each(VENDORS.flatMap((v) => GROUPS.slice(0, 2).map(([first, last]) => [v, first, last] as const)))(
    'random traces under %s, seeds %i..%i: identical summaries',
    (vendor, first, last) => {
      for (let seed = first; seed <= last; seed++) expectSame(seed, vendorCase(seed, vendor));
    },
  );

  it.each(GROUPS.slice(0, 2))('stale traces, seeds %i..%i: identical summaries', (first, last) => {
    for (let seed = first; seed <= last; seed++) expectSame(seed, staleCase(seed));
  });

  it('the streaming traces take the fast path (one-page unmaps of one-page leaves under every vendor and mode)', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const c = streamCase(seed);
      const inv = c.config.invalidation as { mode: string };
      if (c.events.some((e) => e.op === 'unmap' && e.size === K4)) seen.add(`${String(c.config.vendor)}/${inv.mode}`);
    }
    expect([...seen].sort()).toEqual(['amd/lazy', 'amd/strict', 'smmuv3/lazy', 'smmuv3/strict', 'vtd/lazy', 'vtd/strict']);
  });

  it('the buffer traces take the few-pages paths (maps and unmaps of 2..16 pages under every vendor and mode)', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const c = buffersCase(seed);
      const inv = c.config.invalidation as { mode: string };
      const few = (op: string) => c.events.some((e) => e.op === op && Number(e.size) >= 2 * K4 && Number(e.size) <= 16 * K4);
      if (few('map') && few('unmap')) seen.add(`${String(c.config.vendor)}/${inv.mode}`);
    }
    expect([...seen].sort()).toEqual(['amd/lazy', 'amd/strict', 'smmuv3/lazy', 'smmuv3/strict', 'vtd/lazy', 'vtd/strict']);
  });
});
