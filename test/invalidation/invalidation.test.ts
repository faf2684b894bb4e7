// docs/model.md §5 and the teardown of §2, one test per rule.
import { describe, expect, it, vi } from 'vitest';
import { psiCover, psiOut } from '../../src/invalidation/psi.js';
import { Invalidator, type InvalidationTarget } from '../../src/invalidation/invalidator.js';
import { Counters, M } from '../../src/stats/counters.js';
import { SetAssocTable } from '../../src/caches/table.js';
import { K4, M2, type Ev } from '../helpers/events.js';
import { domainRow, replayEvents } from '../helpers/replay.js';

const DEV = 0x300;
const DEV2 = 0x400;
const DEV3 = 0x500;

function cover(start: number, end: number): [number, number] {
  const mask = psiCover(start, end);
  return [psiOut.start, mask];
}

describe('PSI cover (calculate_psi_aligned_address)', () => {
  it('an aligned range is covered by its power-of-two roundup', () => {
    expect(cover(0, 1)).toEqual([0, 0]);
    expect(cover(0, 3)).toEqual([0, 2]);
    expect(cover(512, 1024)).toEqual([512, 9]);
  });

  it('an unaligned range widens the mask to the first bit where start and end agree', () => {
    expect(cover(1, 3)).toEqual([0, 2]); // pages 1..2
    expect(cover(6, 10)).toEqual([0, 4]); // pages 6..9: bits 3 differ (0110 vs 1001)
  });

  it('a range that straddles a large boundary gets a large cover', () => {
    expect(cover(511, 513)).toEqual([0, 10]); // two pages across the 2M line: a 4 MiB cover
  });

  it('a range with no shared high bits gets mask 52 (everything)', () => {
    expect(cover(2 ** 51 - 1, 2 ** 51 + 1)).toEqual([0, 52]);
  });
});

describe('gather (iommu_iotlb_gather_add_page)', () => {
  function invalidator(lazy = false) {
    const counters = new Counters();
    const target: InvalidationTarget = {
      counters,
      iotlbs: [],
      devtlbs: [],
      deviceInstance: new Int32Array(1),
      domainType: new Uint8Array(1),
      domainTraceId: new Float64Array(1),
      domainAttachments: [[]],
      domainNested: [[]],
      domainAlwaysStrict: new Uint8Array(1),
      attDevice: new Int32Array(1),
      attTag: new Int32Array(1),
    };
    return {
      inv: new Invalidator(target, { mode: lazy ? 'lazy' : 'strict', maxInvalidationMask: 9, fqSize: 4, fqTimeoutNs: 10, instances: 1, domainIds: 65536 }),
      counters,
    };
  }

  it('a chunk of another length syncs first; a disjoint chunk syncs first; touching chunks merge', () => {
    const { inv, counters } = invalidator();
    inv.beginUnmap();
    inv.addChunk(0, 0, 1, 0);
    inv.addChunk(0, 1, 1, 0); // touches: merged
    inv.addChunk(0, 5, 1, 0); // disjoint: sync [0, 2)
    inv.addChunk(0, 6, 2, 0); // other length: sync [5, 6)
    inv.endUnmap(0, true, 0, 0, 8); // sync [6, 8)
    expect(counters.dom(0, M.syncs)).toBe(3);
  });

  it('an unmap that gathered nothing syncs nothing', () => {
    const { inv, counters } = invalidator();
    inv.beginUnmap();
    inv.endUnmap(0, false, 0, 0, 0);
    expect(counters.dom(0, M.syncs)).toBe(0);
  });

  it('a sync is counted even when the domain has no attachment, and sends nothing', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
    ]);
    expect(s.totals.invalidation.syncs).toBe(1);
    expect(s.totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, devtlb: 0, wait: 0 });
  });
});

/** Attach DEV to domain 1, map pages, and touch each so the IOTLB holds them. */
function warm(pages: number[], extra: Ev[] = []): Ev[] {
  const ev: Ev[] = [{ op: 'attach', device: DEV, domain: 1 }, ...extra];
  for (const p of pages) ev.push({ op: 'map', domain: 1, iova: p * K4, paddr: p * K4, size: K4 });
  for (const p of pages) ev.push({ op: 'dma_read', device: DEV, iova: p * K4, size: 4 });
  return ev;
}

describe('strict invalidation commands', () => {
  it('page-selective command removes the entries of the tag that overlap the cover', () => {
    const s = replayEvents([
      ...warm([0, 1, 2, 3]),
      { op: 'unmap', domain: 1, iova: 2 * K4, size: K4 },
      ...[0, 1, 3].map((p): Ev => ({ op: 'dma_read', device: DEV, iova: p * K4, size: 4 })),
    ]);
    expect(s.totals.invalidation).toMatchObject({ syncs: 1, commands: { page: 1, domain: 0, devtlb: 0, wait: 1 }, entriesRemoved: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 7, hits: 3 });
  });

  it('a cover whose mask exceeds maxInvalidationMask falls back to domain-selective', () => {
    const ev = [...warm([511, 512, 600]), { op: 'unmap', domain: 1, iova: 511 * K4, size: 2 * K4 } as Ev];
    const dsi = replayEvents(ev);
    expect(dsi.totals.invalidation).toMatchObject({ commands: { page: 0, domain: 1, wait: 1 }, entriesRemoved: 3 });
    const psi = replayEvents(ev, { invalidation: { maxInvalidationMask: 10 } });
    expect(psi.totals.invalidation).toMatchObject({ commands: { page: 1, domain: 0, wait: 1 }, entriesRemoved: 3 }); // cover [0, 4M) holds page 600 too
    const tight = replayEvents([...warm([0, 1, 600]), { op: 'unmap', domain: 1, iova: 0, size: 2 * K4 }]);
    expect(tight.totals.invalidation.entriesRemoved).toBe(2);
  });

  it('one IOTLB command per (instance, DID, PASID) tag, one device-TLB command per attachment with a device TLB, one wait per instance', () => {
    const cfg = {
      iommus: [{ name: 'a' }, { name: 'b' }],
      devices: { '0000:04:00.0': { iommu: 'b', devtlb: true } },
    };
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 }, // a, PASID 0
        { op: 'attach', device: DEV3, domain: 1 }, // a, PASID 0: same tag
        { op: 'attach', device: DEV2, pasid: 5, domain: 1 }, // b, PASID 5, device TLB
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
      ],
      cfg,
    );
    expect(s.totals.invalidation.commands).toMatchObject({ page: 2, domain: 0, devtlb: 1, wait: 2 });
  });
});

describe('attachment teardown (§2)', () => {
  it('replacing a paging attachment sends one domain-selective command on its DID, removing other devices entries too', () => {
    const s = replayEvents([
      { op: 'attach', device: DEV2, domain: 1 },
      ...warm([0, 1]),
      { op: 'dma_read', device: DEV2, iova: 0, size: 4 }, // a hit: DEV2 shares the DID's entries
      { op: 'detach', device: DEV },
      { op: 'dma_read', device: DEV2, iova: 0, size: 4 }, // miss: the teardown removed the DID's entries
    ]);
    expect(s.totals.invalidation).toMatchObject({ commands: { page: 0, domain: 1, devtlb: 0, wait: 1 }, flushes: 1, entriesRemoved: 2 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 4, hits: 1 });
  });

  it('tearing down an SVA attachment removes only the entries of (DID 1, pasid)', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, pasid: 1, domain: 4 },
        { op: 'attach', device: DEV, pasid: 2, domain: 5 },
        { op: 'map', domain: 4, iova: 0, paddr: 0, size: K4 },
        { op: 'map', domain: 5, iova: 0, paddr: M2, size: K4 },
        { op: 'dma_read', device: DEV, pasid: 1, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, pasid: 2, iova: 0, size: 4 },
        { op: 'detach', device: DEV, pasid: 1 },
        { op: 'dma_read', device: DEV, pasid: 2, iova: 0, size: 4 }, // still cached
      ],
      {},
      { domains: { 4: 'sva', 5: 'sva' } },
    );
    expect(s.totals.invalidation).toMatchObject({ commands: { domain: 1, wait: 1 }, flushes: 1, entriesRemoved: 1 });
    expect(domainRow(s, 4).invalidation.flushes).toBe(1);
    expect(s.totals.iotlb.hits).toBe(1);
  });

  it('tearing down an identity attachment sends no IOTLB command or wait, but a device-TLB command on an ATS device', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 8 },
      { op: 'attach', device: DEV, domain: 1 },
    ];
    const plain = replayEvents(ev, {}, { domains: { 8: 'identity' } });
    expect(plain.totals.invalidation).toMatchObject({ commands: { page: 0, domain: 0, devtlb: 0, wait: 0 }, flushes: 0 });
    const ats = replayEvents(ev, { devices: { '0000:03:00.0': { devtlb: true } } }, { domains: { 8: 'identity' } });
    expect(ats.totals.invalidation).toMatchObject({ commands: { page: 0, domain: 0, devtlb: 1, wait: 0 }, flushes: 0 });
  });

  it('a paging teardown removes every PASID of the DID in one pass of each table, however many PASIDs it has had', () => {
    // 40 PASIDs of one device attached to paging domain 1 in turn, each filling an entry.
    const ev: Ev[] = [{ op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 }];
    for (let p = 1; p <= 40; p++) ev.push({ op: 'attach', device: DEV, pasid: p, domain: 1 }, { op: 'dma_read', device: DEV, pasid: p, iova: 0, size: 4 });
    ev.push({ op: 'attach', device: DEV2, domain: 2 }, { op: 'dma_read', device: DEV2, iova: 0, size: 4 }); // another DID: kept
    ev.push({ op: 'detach', device: DEV, pasid: 40 });
    const scans = vi.spyOn(SetAssocTable.prototype, 'removeTags');
    try {
      const s = replayEvents(ev, { iotlb: { entries: 64, ways: 64 } }); // one set: every entry stays
      expect(s.totals.invalidation).toMatchObject({ commands: { domain: 1 }, flushes: 1, entriesRemoved: 40 });
      expect(scans).toHaveBeenCalledTimes(1); // one IOTLB, no walk cache, no device TLB: one scan, not one per PASID
    } finally {
      scans.mockRestore();
    }
  });

  it('the old DID is released only after the teardown', () => {
    // With 3 DIDs (only DID 2 allocatable) a move from domain 1 to identity releases DID 2; domain 2 then gets it.
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV, domain: 8 },
        { op: 'attach', device: DEV2, domain: 2 },
      ],
      { domainIds: 3 },
      { domains: { 8: 'identity' } },
    );
    expect(s.totals.attach.errors).toBe(0);
    expect(s.totals.invalidation.flushes).toBe(1);
  });
});

describe('lazy mode: the flush queue', () => {
  const lazy = (extra: object = {}) => ({ invalidation: { mode: 'lazy', fqSize: 2, fqTimeoutNs: 100, ...extra } });

  it('unmap in lazy mode removes the leaves but sends nothing', () => {
    const s = replayEvents([...warm([0]), { op: 'unmap', domain: 1, iova: 0, size: K4 }], lazy());
    expect(s.totals.invalidation).toMatchObject({ syncs: 0, commands: { page: 0, domain: 0, devtlb: 0, wait: 0 }, flushes: 0 });
    expect(s.totals.unmap.bytes).toBe(K4);
  });

  it('a full queue is flushed domain-wide before the unmap that finds it full is queued', () => {
    const ev: Ev[] = [...warm([0, 1, 2])];
    ev.push({ op: 'unmap', domain: 1, iova: 0, size: K4 }, { op: 'unmap', domain: 1, iova: K4, size: K4 }, { op: 'unmap', domain: 1, iova: 2 * K4, size: K4 });
    const s = replayEvents(
      ev.map((e, i) => ({ ...e, ts: i })),
      lazy(),
    );
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, commands: { domain: 1, wait: 1 }, entriesRemoved: 3 });
  });

  it('an unmap that removed nothing takes no slot', () => {
    const ev: Ev[] = [
      ...warm([0]),
      { op: 'unmap', domain: 1, iova: 5 * K4, size: K4 },
      { op: 'unmap', domain: 1, iova: 6 * K4, size: K4 },
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
    ];
    const s = replayEvents(
      ev.map((e, i) => ({ ...e, ts: i })),
      lazy(),
    );
    expect(s.totals.invalidation.flushes).toBe(0);
    expect(s.totals.unmap.short).toBe(2);
  });

  it('the queue is flushed before the first event whose ts reaches the timeout after its first entry', () => {
    const base: Ev[] = [...warm([0, 1])].map((e) => ({ ...e, ts: 0 }));
    const ev: Ev[] = [
      ...base,
      { ts: 10, op: 'unmap', domain: 1, iova: 0, size: K4 },
      { ts: 50, op: 'unmap', domain: 1, iova: K4, size: K4 }, // same queue: deadline stays 110
      { ts: 109, op: 'dma_read', device: DEV, iova: 0, size: 4 }, // still stale: a stale hit
      { ts: 110, op: 'dma_read', device: DEV, iova: 0, size: 4 }, // flushed just before: a miss, fault
    ];
    const s = replayEvents(ev, lazy());
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, entriesRemoved: 2 });
    expect(s.totals.iotlb).toMatchObject({ staleHits: 1 });
    expect(s.totals.dma.faults).toBe(1);
    // Pages unmapped at 10 and 50, their entries removed at 110.
    expect(s.totals.invalidation.staleWindowMaxNs).toBe(100);
    expect(s.totals.invalidation.staleWindowMeanNs).toBe(80);
  });

  it('nothing is flushed when the trace ends', () => {
    const s = replayEvents([...warm([0]), { op: 'unmap', domain: 1, iova: 0, size: K4 }], lazy());
    expect(s.totals.invalidation.flushes).toBe(0);
  });

  it('a flush op is the same domain-wide flush and leaves the queue as it is', () => {
    const ev: Ev[] = [
      ...warm([0]).map((e) => ({ ...e, ts: 0 })),
      { ts: 1, op: 'unmap', domain: 1, iova: 0, size: K4 },
      { ts: 5, op: 'flush', domain: 1 },
      { ts: 101, op: 'flush', domain: 99 }, // any event past the deadline fires the queue's timeout
    ];
    const s = replayEvents(ev, lazy());
    expect(domainRow(s, 1).invalidation.flushes).toBe(2);
    expect(domainRow(s, 99).invalidation.flushes).toBe(1);
  });

  it('stale hits in lazy mode, none in strict mode', () => {
    const ev: Ev[] = [...warm([0]), { op: 'unmap', domain: 1, iova: 0, size: K4 }, { op: 'dma_read', device: DEV, iova: 0, size: 4 }];
    const l = replayEvents(ev, lazy());
    expect(l.totals.iotlb).toMatchObject({ hits: 1, staleHits: 1 });
    expect(l.totals.dma.faults).toBe(0);
    const s = replayEvents(ev);
    expect(s.totals.iotlb).toMatchObject({ hits: 0, staleHits: 0 });
    expect(s.totals.dma.faults).toBe(1);
    expect(s.totals.invalidation.staleWindowMaxNs).toBe(0);
  });

  it('a hit on a page remapped with the same base, size and paddr is not stale; with another paddr it is', () => {
    const same: Ev[] = [
      ...warm([0]),
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
    ];
    expect(replayEvents(same, lazy()).totals.iotlb).toMatchObject({ hits: 1, staleHits: 0 });
    const moved: Ev[] = [
      ...warm([0]),
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
      { op: 'map', domain: 1, iova: 0, paddr: M2, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
    ];
    expect(replayEvents(moved, lazy()).totals.iotlb).toMatchObject({ hits: 1, staleHits: 1 });
  });

  it('a miss on a page whose entry an invalidation removed is counted as caused by invalidation', () => {
    const ev: Ev[] = [
      ...warm([0, 1]),
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
      { op: 'dma_read', device: DEV, iova: 7 * K4, size: 4 },
    ];
    const s = replayEvents(ev);
    expect(s.totals.iotlb).toMatchObject({ misses: 4, invalidatedMisses: 1 });
    expect(s.derived.iotlbMissShareFromInvalidation).toBe(0.25);
  });
});
