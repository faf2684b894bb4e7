// Model §9 (AMD-Vi, SMMUv3) on seeded random traces: the engine's counters
// must equal the plain reference's (test/model/reference.ts, written from the
// spec and docs/vendors-evidence.md, not from the engine), counter for
// counter, under each vendor, strict and lazy, with device TLBs; lanes and
// the specialized DMA loop must stay exact under each vendor.
//
// A vendor the engine does not model yet ("vendor smmuv3 is not modelled
// yet") is skipped with that message, so the branch stays mergeable.
import { describe, expect, it } from 'vitest';
import { resolveConfig, type ReplayConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { laneReplay, laneSummaries } from '../../src/run/run.js';
import { buildSummary, type Summary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import type { Ev } from '../helpers/events.js';
import { consumeInTwo, metaOf, replayEvents, type Meta } from '../helpers/replay.js';
import { engineCounters, referenceCounters } from '../helpers/counters.js';
import { vendorCase, type VendorName } from '../helpers/random-case.js';
import { amdBlocks, amdCover, atcSpan, referenceReplay, rilCommands, setSmmuWalkFlush } from './reference.js';

/** Why the engine cannot replay under `vendor` (its own message), or null when it can. */
function unsupported(vendor: VendorName): string | null {
  try {
    new Replay(resolveConfig({ vendor }, 'probe'), metaOf({}));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const SKIP: Record<VendorName, string | null> = { vtd: unsupported('vtd'), amd: unsupported('amd'), smmuv3: unsupported('smmuv3') };

/** report.md `invalidation.commands.byName`: the four §5 counters under the vendor's names (amd's all-addresses form is INVALIDATE_IOMMU_PAGES too). */
function expectedByName(vendor: VendorName, c: { page: number; domain: number; devtlb: number; wait: number }): Record<string, number> {
  const named: [string, number][] =
    vendor === 'vtd'
      ? [
          ['PSI', c.page],
          ['DSI', c.domain],
          ['DEVTLB', c.devtlb],
          ['WAIT', c.wait],
        ]
      : vendor === 'amd'
        ? [
            ['INVALIDATE_IOMMU_PAGES', c.page + c.domain],
            ['INVALIDATE_IOTLB_PAGES', c.devtlb],
            ['COMPLETION_WAIT', c.wait],
          ]
        : [
            ['TLBI_NH_VA', c.page],
            ['TLBI_NH_ASID', c.domain],
            ['ATC_INV', c.devtlb],
            ['CMD_SYNC', c.wait],
          ];
  return Object.fromEntries(named.filter(([, n]) => n !== 0).sort());
}

function byNameOf(s: Summary): Record<string, number> | undefined {
  const b = (s.totals.invalidation.commands as unknown as { byName?: Record<string, number> }).byName;
  return (
    b &&
    Object.fromEntries(
      Object.entries(b)
        .filter(([, n]) => n !== 0)
        .sort(),
    )
  );
}

/** Cases run per vendor (the counts the report gives), by kind of check. */
const RUN: Record<string, number> = {};
const count = (k: string) => (RUN[k] = (RUN[k] ?? 0) + 1);

function compareOne(seed: number, vendor: VendorName): void {
  const { events, config, meta } = vendorCase(seed, vendor);
  const s = replayEvents(events, config, meta);
  const r = referenceReplay(events, resolveConfig(config, 'property'), metaOf(meta));
  const got = engineCounters(s);
  const want = referenceCounters(r);
  if (JSON.stringify(got) !== JSON.stringify(want)) expect({ vendor, seed, config, ...got }).toEqual({ vendor, seed, config, ...want });
  const names = byNameOf(s);
  if (names) expect({ vendor, seed, byName: names }).toEqual({ vendor, seed, byName: expectedByName(vendor, s.totals.invalidation.commands) });
  count(`${vendor} property`);
}

/**
 * Seeds where the engine is known to part from the reference, each reduced to
 * a named case below that states who is right (and reported to the lead);
 * left out of the random groups so that the branch stays green meanwhile.
 */
const KNOWN: Record<VendorName, ReadonlySet<number>> = { vtd: new Set(), amd: new Set(), smmuv3: new Set() };

const SEEDS_PER_TEST = 20;
const groups = (n: number, from = 1) => Array.from({ length: n }, (_, g) => [from + g * SEEDS_PER_TEST, from + (g + 1) * SEEDS_PER_TEST - 1] as const);

for (const vendor of ['amd', 'smmuv3'] as const) {
  const why = SKIP[vendor];
  describe(`engine equals the plain reference under vendor ${vendor}${why ? ` (skipped: the engine says "${why}")` : ''}`, () => {
    it.skipIf(why !== null).each(groups(10))(`${vendor}, seeds %i..%i: random traces and configurations give identical counters`, (first, last) => {
      for (let seed = first; seed <= last; seed++) if (!KNOWN[vendor].has(seed)) compareOne(seed, vendor);
    });
  });
}

describe('disagreements found, reduced', () => {
  // smmuv3 seed 24, reduced to 7 events. Teardown leaves the entries tagged with the ASID the domain keeps (§9.1);
  // the unmap while the domain is detached goes to its flush queue (lazy; strict, its TLBI_NH_VA would remove the
  // entry, §9.6); re-attached, the domain hits its entry for a page no longer mapped. §6: a hit on an entry whose
  // page is no longer mapped is a stale hit. The engine counted the hit but not as stale (staleHits 0, reference 1)
  // until vsmmu dc95a41. (The seed's trace was strict, when the model sent nothing for a detached domain.)
  const events: Ev[] = [
    { op: 'attach', device: 256, pasid: 0, domain: 2 },
    { op: 'map', domain: 2, iova: 0x400000, paddr: 0x100400000, size: 0x10000 },
    { op: 'dma_read', device: 256, pasid: 0, iova: 0x400000, size: 4 },
    { op: 'attach', device: 256, pasid: 0, domain: 4 },
    { op: 'unmap', domain: 2, iova: 0x400000, size: 0x10000 },
    { op: 'attach', device: 256, pasid: 0, domain: 2 },
    { op: 'dma_read', device: 256, pasid: 0, iova: 0x400000, size: 4 },
  ];
  const config = { vendor: 'smmuv3', pageSizes: ['64K'], invalidation: { mode: 'lazy' } };
  it('the reference: one hit, and it is stale', () => {
    expect(refRun(events, config).iotlb).toMatchObject({ hits: 1, staleHits: 1 });
  });
  it.skipIf(SKIP.smmuv3 !== null)("smmuv3: a hit on an entry that outlived its domain's detach and unmap is stale", () => {
    expect(engineCounters(replayEvents(events, config))).toEqual(referenceCounters(refRun(events, config)));
  });

  // The reference's side of the same rule (it was the reference that was wrong): the lazy unmap while detached starts
  // the stale window of the kept entry, which the flush after the re-attach ends: 1000 - 10 = 990 ns.
  it.skipIf(SKIP.smmuv3 !== null)("smmuv3: an unmap while the domain is detached starts its kept entries' stale window", () => {
    const window: Ev[] = [
      { ts: 0, op: 'attach', device: 256, pasid: 0, domain: 2 },
      { ts: 0, op: 'map', domain: 2, iova: 0x400000, paddr: 0x100400000, size: 0x10000 },
      { ts: 0, op: 'dma_read', device: 256, pasid: 0, iova: 0x400000, size: 4 },
      { ts: 0, op: 'attach', device: 256, pasid: 0, domain: 4 },
      { ts: 10, op: 'unmap', domain: 2, iova: 0x400000, size: 0x10000 },
      { ts: 100, op: 'attach', device: 256, pasid: 0, domain: 2 },
      { ts: 1000, op: 'flush', domain: 2 },
    ];
    expect(refRun(window, config).invalidation).toMatchObject({ entriesRemoved: 1, staleWindowMaxNs: 990 });
    expect(engineCounters(replayEvents(window, config))).toEqual(referenceCounters(refRun(window, config)));
  });
});

describe("vtd through the vendor cases (the reference's vtd is unchanged)", () => {
  it.skipIf(SKIP.vtd !== null)('seeds 1..20 with vendor: "vtd" written out give identical counters', () => {
    for (let seed = 1; seed <= 20; seed++) compareOne(seed, 'vtd');
  });
});

/** 2 to 4 IOTLB geometries and policies on an otherwise equal strict configuration (test/run/lanes.test.ts). */
function laneConfigs(seed: number, base: Record<string, unknown>): ReplayConfig[] {
  const rng = new Rng(seed * 104729);
  const n = 2 + rng.int(3);
  const policies = ['lru', 'fifo', 'plru', 'random', 'flush-when-full'];
  const inv = { ...(base.invalidation as object), mode: 'strict' };
  return Array.from({ length: n }, () =>
    resolveConfig(
      { ...base, invalidation: inv, iotlb: { sets: [1, 2, 4, 8][rng.int(4)], ways: [1, 2, 4][rng.int(3)], policy: policies[rng.int(5)] } },
      'lanes',
    ),
  );
}

/** Every exact lane against its own replay; returns [lanes, exact lanes]. */
function checkLanes(seed: number, events: Ev[], configs: ReplayConfig[], meta: Meta): [number, number] {
  const r = laneReplay(configs, metaOf(meta), {});
  consumeInTwo(r, events);
  const got = laneSummaries(r, configs, ['t']);
  let exact = 0;
  configs.forEach((c, j) => {
    if (got[j] === null) return;
    const alone = new Replay(c, metaOf(meta));
    consumeInTwo(alone, events);
    const want = stableStringify(buildSummary(alone, ['t']));
    exact++;
    const have = stableStringify(got[j]);
    if (have !== want) expect({ seed, lane: j, have }).toEqual({ seed, lane: j, have: want });
  });
  expect(got[0]).not.toBeNull();
  return [configs.length, exact];
}

for (const vendor of ['amd', 'smmuv3'] as const) {
  const why = SKIP[vendor];
  describe(`IOTLB lanes under vendor ${vendor}${why ? ` (skipped: the engine says "${why}")` : ''}`, () => {
    it.skipIf(why !== null).each(groups(3, 1001))(`${vendor}, strict traces, seeds %i..%i: every exact lane equals its own replay`, (first, last) => {
      let lanes = 0;
      let exact = 0;
      for (let seed = first; seed <= last; seed++) {
        const { events, config, meta } = vendorCase(seed, vendor);
        const [l, e] = checkLanes(seed, events, laneConfigs(seed, config), meta);
        lanes += l;
        exact += e;
        count(`${vendor} lanes`);
      }
      // Not vacuous: lanes part only on a stale hit.
      expect(exact / lanes).toBeGreaterThan(0.5);
    });
  });
}

function specializedSummary(events: Ev[], config: object, meta: Meta, generic: boolean): string {
  const r = new Replay(resolveConfig(config, 'specialize'), metaOf(meta), { generic });
  expect(r.specialized).toBe(!generic);
  consumeInTwo(r, events);
  return stableStringify(buildSummary(r, ['t']));
}

for (const vendor of ['amd', 'smmuv3'] as const) {
  const why = SKIP[vendor];
  describe(`specialized paging run equals the generic loop under vendor ${vendor}${why ? ` (skipped: the engine says "${why}")` : ''}`, () => {
    it.skipIf(why !== null).each(groups(vendor === 'smmuv3' ? 3 : 2, 2001))(
      `${vendor}, seeds %i..%i: identical summaries${vendor === 'smmuv3' ? ' (4K, 16K and 64K granules)' : ''}`,
      (first, last) => {
        for (let seed = first; seed <= last; seed++) {
          const { events, config, meta } = vendorCase(seed, vendor);
          const want = specializedSummary(events, config, meta, true);
          const got = specializedSummary(events, config, meta, false);
          if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
          count(`${vendor} specialize`);
        }
      },
    );
  });
}

// The reference's own §9 arithmetic against the worked counts of
// docs/vendors-evidence.md §5 (so that a disagreement is not the reference's slip).
describe("the reference's §9 arithmetic", () => {
  it('amd build_inv_address(): one page; [0x1000, 0x402000) is 8 MiB at 0; npCache splits it into 11 blocks', () => {
    expect(amdCover(0x1000n, 0x2000n)).toEqual({ start: 0x1000n, end: 0x2000n, all: false });
    expect(amdCover(0x1000n, 0x4000n)).toEqual({ start: 0n, end: 0x4000n, all: false }); // a 3-page range
    expect(amdCover(0x1000n, 0x402000n)).toEqual({ start: 0n, end: 0x800000n, all: false });
    expect(amdBlocks(0x1000n, 0x402000n).map((b) => [b.start, b.end - b.start])).toEqual([
      [0x1000n, 0x1000n],
      [0x2000n, 0x2000n],
      [0x4000n, 0x4000n],
      [0x8000n, 0x8000n],
      [0x10000n, 0x10000n],
      [0x20000n, 0x20000n],
      [0x40000n, 0x40000n],
      [0x80000n, 0x80000n],
      [0x100000n, 0x100000n],
      [0x200000n, 0x200000n],
      [0x400000n, 0x2000n],
    ]);
    expect(amdCover(0n, 1n << 60n).all).toBe(true);
  });

  it('smmuv3 RIL: 1, 2, 31, 32, 512, 262144 granules take one command; 33, 511, 513, 1000, 1023 two; 35 pages two', () => {
    expect([1n, 2n, 31n, 32n, 512n, 262144n].map(rilCommands)).toEqual([1, 1, 1, 1, 1, 1]);
    expect([33n, 511n, 513n, 1000n, 1023n, 35n].map(rilCommands)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('smmuv3 ATC span: one page is itself; pages 1..2 span 4 pages from 0', () => {
    expect(atcSpan(0x1000n, 0x2000n)).toEqual({ start: 0x1000n, end: 0x2000n });
    expect(atcSpan(0x1000n, 0x3000n)).toEqual({ start: 0n, end: 0x4000n });
  });
});

/** The reference under a vendor configuration, whether or not the engine's resolveConfig knows the §9 fields yet. */
function refRun(events: Ev[], config: Record<string, unknown>, meta: Meta = {}) {
  const { vendor, amd, smmu, ...rest } = config;
  const cfg = { ...resolveConfig(rest, 'rule'), vendor, ...(amd ? { amd } : {}), ...(smmu ? { smmu } : {}) } as unknown as ReplayConfig;
  return referenceReplay(events, cfg, metaOf(meta));
}
const cmds = (r: ReturnType<typeof refRun>) => ({ syncs: r.invalidation.syncs, ...r.invalidation.commands, attachErrors: r.attach.errors });
const TWO = { iommus: [{ name: 'a' }, { name: 'b' }], devices: { '256': { iommu: 'a' }, '512': { iommu: 'b' } } };

// The acceptance list's rules, counted by hand, on the reference alone (the
// engine's own rule tests are its engineers'); with the engine compared too
// once it models the vendor.
describe("the reference's §9 rules, counted by hand", () => {
  const at = (device: number, domain: number, pasid = 0): Ev => ({ op: 'attach', device, domain, pasid });
  const map = (iova: number, size: number, domain = 1): Ev => ({ op: 'map', domain, iova, paddr: iova, size });
  const unmap = (iova: number, size: number, domain = 1): Ev => ({ op: 'unmap', domain, iova, size });
  const check = (events: Ev[], config: Record<string, unknown>, want: object) => {
    expect(cmds(refRun(events, config))).toEqual({ syncs: 0, page: 0, domain: 0, devtlb: 0, wait: 0, attachErrors: 0, ...want });
    const v = config.vendor as VendorName;
    if (SKIP[v] === null) expect(engineCounters(replayEvents(events, config))).toEqual(referenceCounters(refRun(events, config)));
  };

  it('amd: a 3-page unmap is one INVALIDATE_IOMMU_PAGES over 16 KiB at 0 and one COMPLETION_WAIT', () => {
    check([at(256, 1), map(0x1000, 0x3000), unmap(0x1000, 0x3000)], { vendor: 'amd', pageSizes: ['4K'] }, { syncs: 1, page: 1, wait: 1 });
  });

  it('amd: unmapping [0x1000, 0x402000) (511 x 4K, 2M, 2 x 4K) syncs once over 8 MiB; npCache: 11 blocks, and 11 more after the map', () => {
    const events = [at(256, 1), map(0x1000, 0x401000), unmap(0x1000, 0x401000)];
    check(events, { vendor: 'amd', pageSizes: ['4K', '2M'] }, { syncs: 1, page: 1, wait: 1 });
    check(events, { vendor: 'amd', pageSizes: ['4K', '2M'], amd: { npCache: true } }, { syncs: 1, page: 22, wait: 2 });
  });

  it('amd npCache: a map of 3 pages at 0 is flushed as 8 KiB + 4 KiB and one wait; no sync counted', () => {
    check([at(256, 1), map(0, 0x3000)], { vendor: 'amd', pageSizes: ['4K'], amd: { npCache: true } }, { page: 2, wait: 1 });
  });

  it('amd: one domain ID for both instances; teardown flushes the old domain on each of them', () => {
    // dev 256 (a) and 512 (b) share domain 1; detaching 256 flushes ID 1 on a and b, one wait each.
    check([at(256, 1), at(512, 1), { op: 'detach', device: 256, pasid: 0 }], { vendor: 'amd', ...TWO }, { domain: 2, wait: 2 });
  });

  it('smmuv3: 35 pages are two range TLBIs (32 + 3) and one CMD_SYNC; without RIL 35', () => {
    const events = [at(256, 1), map(0, 35 * 0x1000), unmap(0, 35 * 0x1000)];
    check(events, { vendor: 'smmuv3', pageSizes: ['4K'] }, { syncs: 1, page: 2, wait: 1 });
    check(events, { vendor: 'smmuv3', pageSizes: ['4K'], smmu: { rangeInvalidation: false } }, { syncs: 1, page: 35, wait: 1 });
  });

  it('smmuv3: 100 TLBIs take one CMD_SYNC, two under the forced-sync erratum', () => {
    const events = [at(256, 1), map(0, 100 * 0x1000), unmap(0, 100 * 0x1000)];
    check(events, { vendor: 'smmuv3', pageSizes: ['4K'], smmu: { rangeInvalidation: false } }, { syncs: 1, page: 100, wait: 1 });
    check(events, { vendor: 'smmuv3', pageSizes: ['4K'], smmu: { rangeInvalidation: false, forceSyncErratum: true } }, { syncs: 1, page: 100, wait: 2 });
  });

  // docs/vendors-evidence.md §5.2 writes 513 for this range (511 + 1 + 1), but its tail is 0x2000 bytes, two 4K leaves:
  // 511 + 1 + 2 = 514 (its own npCache list ends with 8K@0x400000).
  it('smmuv3: [0x1000, 0x402000) gathers per leaf size: 3 syncs (511 x 4K, 2M, 2 x 4K), 4 TLBIs with RIL, 514 without (11 CMD_SYNCs under the erratum)', () => {
    const events = [at(256, 1), map(0x1000, 0x401000), unmap(0x1000, 0x401000)];
    check(events, { vendor: 'smmuv3', pageSizes: ['4K', '2M'] }, { syncs: 3, page: 4, wait: 3 });
    check(events, { vendor: 'smmuv3', pageSizes: ['4K', '2M'], smmu: { rangeInvalidation: false } }, { syncs: 3, page: 514, wait: 3 });
    check(events, { vendor: 'smmuv3', pageSizes: ['4K', '2M'], smmu: { rangeInvalidation: false, forceSyncErratum: true } }, { syncs: 3, page: 514, wait: 11 });
  });

  it("smmuv3 walk flush (evidence §4 item 19, 6.1): a 2M unmap over 512 x 4K flushes the table's span at once, 1 TLBI with RIL, 512 without; its leaves are not gathered", () => {
    const events = [at(256, 1), { op: 'map', domain: 1, iova: 0, paddr: 0x1000, size: 0x200000 } as Ev, unmap(0, 0x200000)];
    const cfg = { vendor: 'smmuv3', pageSizes: ['4K', '2M'] };
    check(events, cfg, { page: 1, wait: 1 });
    check(events, { ...cfg, smmu: { rangeInvalidation: false } }, { page: 512, wait: 1 });
    check(events, { ...cfg, smmu: { rangeInvalidation: false, forceSyncErratum: true } }, { page: 512, wait: 9 });
    // Without it (the switch): the 512 leaves gathered and synced once, one RIL TLBI.
    setSmmuWalkFlush(false);
    try {
      expect(cmds(refRun(events, cfg))).toMatchObject({ syncs: 1, page: 1, wait: 1 });
    } finally {
      setSmmuWalkFlush(true);
    }
  });

  it("smmuv3: ASIDs are one space for both SMMUs: with 1 ASID bit the second domain's attach fails (ENOSPC)", () => {
    check([at(256, 1), at(512, 2)], { vendor: 'smmuv3', smmu: { asidBits: 1 }, ...TWO }, { attachErrors: 1 });
  });

  it('smmuv3: a domain on SMMU a cannot attach behind SMMU b; the device keeps its domain', () => {
    const events = [at(256, 1), at(512, 2), map(0, 0x1000, 2), at(512, 1), { op: 'dma_read', device: 512, iova: 0, size: 4 } as Ev];
    const r = refRun(events, { vendor: 'smmuv3', ...TWO });
    expect([r.attach.errors, r.dma.faults, r.walks.count]).toEqual([1, 0, 1]);
  });

  it('smmuv3: detach sends no TLBI; on an ATS device one ATC_INV and one CMD_SYNC', () => {
    check([at(256, 1), { op: 'detach', device: 256, pasid: 0 }], { vendor: 'smmuv3', devices: { '256': { devtlb: true } } }, { devtlb: 1, wait: 1 });
  });

  it('smmuv3 64K granule: a 64K leaf walks 3 levels, a 512M block 2, in 64 KiB table pages (root, level 2, level 1)', () => {
    const events = [
      at(256, 1),
      map(0, 0x10000),
      map(0x20000000, 0x20000000),
      { op: 'dma_read', device: 256, iova: 0, size: 4 } as Ev,
      { op: 'dma_read', device: 256, iova: 0x20000000, size: 4 } as Ev,
    ];
    const r = refRun(events, { vendor: 'smmuv3', pageSizes: ['64K', '512M'] });
    expect([r.walks.count, r.walks.memoryAccesses, r.peakTablePages, r.map.pages]).toEqual([2, 5, 3, { '64K': 1, '512M': 1 }]);
  });
});

describe('cases run', () => {
  it('lists how many cases each vendor ran (printed for the report)', () => {
    console.log(`vendor-property cases run: ${JSON.stringify(RUN)}; skipped: ${JSON.stringify(SKIP)}`);
    expect(true).toBe(true);
  });
});

describe('byPageSize lookups exclude the misses that faulted (report-keys.md "byPageSize")', () => {
  it('their sum is totals.iotlb.lookups minus the misses that found no page (misses - walks), on seeded traces of every vendor', () => {
    let faulted = 0;
    for (const vendor of ['vtd', 'amd', 'smmuv3'] as const)
      for (let seed = 1; seed <= 40; seed++) {
        const c = vendorCase(seed, vendor);
        const s = replayEvents(c.events, c.config, c.meta);
        const { lookups, misses } = s.totals.iotlb;
        const sum = s.byPageSize.reduce((n, p) => n + p.lookups, 0);
        expect(sum, `${vendor} seed ${seed}`).toBe(lookups - (misses - s.totals.walks.count));
        faulted += misses - s.totals.walks.count;
      }
    expect(faulted).toBeGreaterThan(0); // the cases do fault
  });
});
