// One test per rule of docs/model.md sections 1-4 and 6, named after the rule.
import { describe, expect, it } from 'vitest';
import { isOne4kPage, pgsize, pgsizeOut } from '../../src/model/pgsize.js';
import { G1, K4, M2, type Ev } from '../helpers/events.js';
import { domainRow, replayEvents } from '../helpers/replay.js';

const DEV = 0x300;
const DEV2 = 0x400;
const MB4 = 4 * 1024 * 1024;

/** Orders (log2(size)-12), largest first, of a size list. */
const ORDERS_4K_2M = Int8Array.from([9, 0]);
const ORDERS_4K_2M_1G = Int8Array.from([18, 9, 0]);

function split(orders: Int8Array, iova: number, paddr: number, size: number): string[] {
  const out: string[] = [];
  let i = iova / K4;
  let p = paddr / K4;
  let s = size / K4;
  while (s > 0) {
    const o = pgsize(orders, i, p, s);
    const n = pgsizeOut.count;
    out.push(`${n}x${o === 0 ? '4K' : o === 9 ? '2M' : '1G'}`);
    i += n * 2 ** o;
    p += n * 2 ** o;
    s -= n * 2 ** o;
  }
  return out;
}

describe('§3 map: iommu_pgsize split', () => {
  it('worked example B (4K|2M, iova = paddr = 0x1000, 4 MiB) gives 511 x 4K, 1 x 2M, 1 x 4K', () => {
    expect(split(ORDERS_4K_2M, 0x1000, 0x1000, MB4)).toEqual(['511x4K', '1x2M', '1x4K']);
    const s = replayEvents([{ op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: MB4 }], { pageSizes: ['4K', '2M'] });
    expect(s.totals.map.pages).toEqual({ '4K': 512, '2M': 1 });
    expect(s.totals.map.bytes).toBe(MB4);
  });

  it('example A: iova and paddr congruent mod 2M but not mod 1G give 2M pages, never 1G', () => {
    expect(split(ORDERS_4K_2M_1G, 0x1ff000, 0x3ff000, 0x402000)).toEqual(['1x4K', '2x2M', '1x4K']);
  });

  it('example C: iova and paddr congruent only mod 4K give 4K pages only', () => {
    expect(split(ORDERS_4K_2M_1G, 0x200000, 0x201000, 4 * M2)).toEqual(['2048x4K']);
  });

  it('iova and paddr congruent mod 1G with a whole 1G page inside give 1G pages', () => {
    expect(split(ORDERS_4K_2M_1G, G1 - M2, 5 * G1 - M2, G1 + 2 * M2)).toEqual(['1x2M', '1x1G', '1x2M']);
    const s = replayEvents([{ op: 'map', domain: 1, iova: G1 - M2, paddr: 5 * G1 - M2, size: G1 + 2 * M2 }]);
    expect(s.totals.map.pages).toEqual({ '4K': 0, '2M': 2, '1G': 1 });
  });

  it('the count rule stops at the next larger size boundary only when a whole larger page fits after it', () => {
    // 4K pages up to 2M, then 2M + 4K does not hold a whole 2M page after the boundary: all 4K.
    expect(split(ORDERS_4K_2M, M2 - 2 * K4, M2 - 2 * K4, M2 + 2 * K4)).toEqual(['2x4K', '1x2M']);
    // 8K to the boundary + 2M > 2M: no whole 2M page fits after it, so all 4K.
    expect(split(ORDERS_4K_2M, M2 - 2 * K4, M2 - 2 * K4, M2)).toEqual(['512x4K']);
    // iova and paddr not congruent mod 2M: the boundary can never be used.
    expect(split(ORDERS_4K_2M, M2 - K4, M2 - 2 * K4, 4 * M2)).toEqual(['2048x4K']);
  });

  it('one 4K page of an allowed size is what iommu_pgsize gives it, at any alignment (the map and unmap paths skip the search on it)', () => {
    for (const orders of [Int8Array.from([0]), ORDERS_4K_2M, ORDERS_4K_2M_1G, Int8Array.from([4, 2, 0])]) {
      for (const [iova, paddr] of [
        [0, 0],
        [1, 3],
        [512, 512],
        [2 ** 18, 2 ** 30],
        [2 ** 40 + 7, 5],
      ]) {
        expect(isOne4kPage(orders, 1)).toBe(true);
        expect([pgsize(orders, iova, paddr, 1), pgsizeOut.count]).toEqual([0, 1]);
      }
    }
    expect(isOne4kPage(ORDERS_4K_2M, 2)).toBe(false);
    expect(isOne4kPage(Int8Array.from([9]), 1)).toBe(false);
  });
});

describe('§3 map: errors', () => {
  it('map on a non-paging domain is EINVAL and changes nothing', () => {
    const s = replayEvents(
      [
        { op: 'map', domain: 2, iova: 0, paddr: 0, size: K4 },
        { op: 'map', domain: 3, iova: 0, paddr: 0, size: K4 },
      ],
      {},
      { domains: { 2: 'identity', 3: 'blocked' } },
    );
    expect(s.totals.map).toMatchObject({ ops: 2, errors: 2, bytes: 0 });
  });

  it('map not aligned to the granule is EINVAL (iova, paddr or size)', () => {
    const s = replayEvents(
      [
        { op: 'map', domain: 1, iova: 0x800, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: 0, paddr: 0x10, size: K4 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 + 1 },
        { op: 'map', domain: 2, iova: K4, paddr: 0, size: 64 * 1024 }, // granule 64K below
      ],
      { iommus: [{ name: 'arm', pageSizes: ['64K', '512M'] }] },
    );
    expect(s.totals.map).toMatchObject({ ops: 4, errors: 4 });
  });

  it('map over an existing page is EEXIST and changes nothing (rollback)', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: M2, paddr: 0, size: K4 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 4 * M2 },
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
    ]);
    expect(s.totals.map).toMatchObject({ ops: 2, errors: 1, bytes: K4 });
    expect(s.totals.dma.faults).toBe(1);
  });

  it('map of size 0 maps nothing and succeeds', () => {
    const s = replayEvents([{ op: 'map', domain: 1, iova: 0, paddr: 0, size: 0 }]);
    expect(s.totals.map).toMatchObject({ ops: 1, errors: 0, bytes: 0 });
  });
});

describe('§4 unmap', () => {
  const map4M: Ev = { op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: MB4 };

  it('unmap consumes chunks as the core loop does and syncs at each chunk-size change (3 syncs)', () => {
    const s = replayEvents([{ op: 'attach', device: DEV, domain: 1 }, map4M, { op: 'unmap', domain: 1, iova: 0x1000, size: MB4 }]);
    expect(s.totals.unmap).toMatchObject({ ops: 1, errors: 0, short: 0, bytes: MB4 });
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 512, '2M': 1 });
    expect(s.totals.invalidation.syncs).toBe(3);
    expect(s.totals.invalidation.commands).toMatchObject({ page: 3, domain: 0, devtlb: 0, wait: 3 });
  });

  it('unmap rejected for a non-paging domain or an unaligned range', () => {
    const s = replayEvents(
      [
        { op: 'unmap', domain: 2, iova: 0, size: K4 },
        { op: 'unmap', domain: 1, iova: 0x10, size: K4 },
        { op: 'unmap', domain: 1, iova: 0, size: 100 },
      ],
      {},
      { domains: { 2: 'identity' } },
    );
    expect(s.totals.unmap).toMatchObject({ ops: 3, errors: 3, bytes: 0 });
    expect(s.totals.invalidation.syncs).toBe(0);
  });

  it('a short unmap stops at a hole, keeps what earlier chunks removed and still syncs it', () => {
    const s = replayEvents([
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: K4, paddr: K4, size: 2 * K4 },
      // Chunk 1: 511 x 4K up to 2M (clears both leaves); chunk 2: 2M at 2M finds no leaf: short.
      { op: 'unmap', domain: 1, iova: K4, size: 2 * M2 - K4 },
      { op: 'unmap', domain: 1, iova: K4, size: K4 },
    ]);
    expect(s.totals.unmap).toMatchObject({ ops: 2, short: 2, bytes: 2 * K4 }); // what was really removed
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 2 });
    expect(s.totals.invalidation.syncs).toBe(1);
  });

  it('every leaf that overlaps a chunk is removed, holes inside it included', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 2 * K4 },
      { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
      { op: 'unmap', domain: 1, iova: 0, size: 3 * M2 }, // one chunk of 3 x 2M from 0
    ]);
    expect(s.totals.unmap).toMatchObject({ short: 0, bytes: M2 + 2 * K4 });
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 2, '2M': 1 });
    expect(s.totals.invalidation.syncs).toBe(1);
  });

  it('partialUnmap whole-leaf removes the whole leaf and reports the larger size', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 },
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
    ]);
    expect(s.totals.unmap).toMatchObject({ ops: 1, errors: 0, bytes: M2, requestedBytes: K4 });
    expect(s.totals.unmap.pages).toMatchObject({ '2M': 1 });
    expect(s.totals.map.errors).toBe(0); // the range is free again
  });

  it('partialUnmap reject stops with an unmap error and removes nothing of that chunk', () => {
    const s = replayEvents(
      [
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
        { op: 'unmap', domain: 1, iova: 0, size: M2 + K4 },
      ],
      { partialUnmap: 'reject' },
    );
    // Chunk 1: [0, 2M) as 4K pages removes the 4K leaf; chunk 2: [2M, 2M+4K) hits the 2M leaf partly.
    expect(s.totals.unmap).toMatchObject({ ops: 1, errors: 1, short: 0, bytes: K4 });
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 1, '2M': 0 });
    expect(s.totals.invalidation.syncs).toBe(1); // what chunk 1 gathered is still synced
  });

  it('partialUnmap split replaces the leaf by smaller pages and removes only the requested part', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 },
        { op: 'unmap', domain: 1, iova: K4, size: K4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, iova: K4, size: 4 },
        { op: 'dma_read', device: DEV, iova: 2 * K4, size: 4 },
      ],
      { partialUnmap: 'split' },
    );
    expect(s.totals.unmap).toMatchObject({ errors: 0, bytes: K4 });
    expect(s.totals.unmap.pages).toMatchObject({ '4K': 1, '2M': 0 });
    expect(s.totals.dma).toMatchObject({ events: 3, faults: 1 });
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 8 }); // now 4K leaves: 4 accesses each
    // Root, L3, L2 and the new L1 table that holds the 511 remaining 4K pages.
    expect(s.totals.pageTable.peakTablePages).toBe(4);
  });

  it('table pages are freed when an unmap chunk covers their whole span', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'map', domain: 1, iova: M2, paddr: 0, size: K4 }, // a second L1 table
      { op: 'unmap', domain: 1, iova: 0, size: M2 }, // covers the first L1 table: freed
      { op: 'map', domain: 1, iova: 4 * M2, paddr: 0, size: K4 }, // reuses it: peak stays
      { op: 'unmap', domain: 1, iova: M2, size: K4 }, // does not cover the second L1 table: kept
      { op: 'map', domain: 1, iova: 6 * M2, paddr: 0, size: K4 },
    ]);
    // Root + L3 + L2 + two L1 = 5 at most; after the last map: root, L3, L2, L1(2M, empty), L1(8M), L1(12M) = 6.
    expect(s.totals.pageTable.peakTablePages).toBe(6);
  });
});

describe('§6 translation', () => {
  it('walk memory accesses by leaf level: 4K = 4, 2M = 3, 1G = 2 (4 levels); 5 levels add one', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
      { op: 'map', domain: 1, iova: G1, paddr: G1, size: G1 },
      { op: 'dma_read', device: DEV, iova: 0, size: 1 },
      { op: 'dma_read', device: DEV, iova: M2, size: 1 },
      { op: 'dma_read', device: DEV, iova: G1, size: 1 },
    ];
    expect(replayEvents(ev).totals.walks).toMatchObject({ count: 3, memoryAccesses: 9 });
    expect(replayEvents(ev, { pageTable: { levels: 5 } }).totals.walks).toMatchObject({ count: 3, memoryAccesses: 12 });
  });

  it('one IOTLB lookup per page translated, continuing at the end of the translating page', () => {
    const s = replayEvents([
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 4 * K4 },
      { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
      { op: 'dma_write', device: DEV, iova: 0x800, size: 3 * K4 }, // pages 0..3: 4 lookups
      { op: 'dma_write', device: DEV, iova: M2 + 0x800, size: 3 * K4 }, // one 2M page: 1 lookup
      { op: 'dma_write', device: DEV, iova: M2, size: 0 }, // size 0 counts as 1 byte: 1 lookup, a hit
    ]);
    expect(s.totals.iotlb).toMatchObject({ lookups: 6, hits: 1, misses: 5 });
    expect(s.byPageSize.find((p) => p.pageSize === '2M')).toMatchObject({ lookups: 2, hits: 1 });
  });

  it('a page with no leaf faults once and drops the rest of the event', () => {
    const s = replayEvents([
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'map', domain: 1, iova: 2 * K4, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 3 * K4 },
    ]);
    expect(s.totals.dma).toMatchObject({ events: 1, faults: 1 });
    expect(s.totals.iotlb.lookups).toBe(2); // page 0 and the faulting page 1; page 2 never looked up
    expect(s.totals.walks.count).toBe(1);
  });

  it('a device-TLB hit translates without reaching the IOMMU', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
      ],
      { devices: { '0000:03:00.0': { devtlb: true } } },
    );
    expect(s.totals.devtlb).toMatchObject({ lookups: 2, hits: 1, misses: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 1, hits: 0 });
  });

  it('an IOTLB hit fills the device TLB', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV2, iova: 0, size: 4 }, // walk, fills the shared IOTLB
        { op: 'dma_read', device: DEV, iova: 0, size: 4 }, // devTLB miss, IOTLB hit, fills devTLB
        { op: 'dma_read', device: DEV, iova: 0, size: 4 }, // devTLB hit
      ],
      { devices: { '0000:03:00.0': { devtlb: true } } },
    );
    expect(s.totals.devtlb).toMatchObject({ lookups: 2, hits: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 1 });
  });

  it('IOTLB probes each allowed size largest first in the set (address / pageSize) mod sets', () => {
    // Direct-mapped, 2 sets. A 4K page at pfn 1 (set 1) and a 2M page at 2M (2M index 1, set 1) collide;
    // a 4K page at pfn 2 (set 0) does not disturb either.
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: K4, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: 2 * K4, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: M2, paddr: M2, size: M2 },
        { op: 'dma_read', device: DEV, iova: K4, size: 1 }, // miss, fill set 1
        { op: 'dma_read', device: DEV, iova: M2 + 5 * K4, size: 1 }, // miss, evicts set 1
        { op: 'dma_read', device: DEV, iova: 2 * K4, size: 1 }, // miss, set 0
        { op: 'dma_read', device: DEV, iova: M2, size: 1 }, // hit
        { op: 'dma_read', device: DEV, iova: K4, size: 1 }, // miss (evicted)
      ],
      { iotlb: { sets: 2, ways: 1 } },
    );
    expect(s.totals.iotlb).toMatchObject({ lookups: 5, hits: 1 });
  });
});

describe('§6 fill: replacement policies', () => {
  it('flush-when-full empties the whole IOTLB when a fill finds it full (QEMU vtd_update_iotlb)', () => {
    // Pages 0..3 fill a 4-entry table, page 4 finds it full: flush-when-full
    // empties it and fills 4, so 3 then misses; lru evicts only page 0, so 3 hits.
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 5 * K4 },
    ];
    for (const p of [0, 1, 2, 3, 4, 3]) ev.push({ op: 'dma_read', device: DEV, iova: p * K4, size: 8 });
    const iotlb = (policy: string) => ({ pageSizes: ['4K'], iotlb: { entries: 4, ways: 'full', policy } });
    expect(replayEvents(ev, iotlb('flush-when-full')).totals.iotlb.hits).toBe(0);
    expect(replayEvents(ev, iotlb('lru')).totals.iotlb.hits).toBe(1);
  });
});

describe('§2 domains and attachment', () => {
  it('never-attached and blocked (device, pasid) fault; identity passes through with no lookup', () => {
    const s = replayEvents(
      [
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'attach', device: DEV, domain: 9 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'attach', device: DEV, domain: 8 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, pasid: 5, iova: 0, size: 4 },
      ],
      {},
      { domains: { 9: 'blocked', 8: 'identity' } },
    );
    expect(s.totals.dma).toMatchObject({ events: 4, faults: 3, passthrough: 1 });
    expect(s.totals.iotlb.lookups).toBe(0);
  });

  it('detach attaches the blocked domain', () => {
    const s = replayEvents([
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'detach', device: DEV },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
    ]);
    expect(s.totals.dma.faults).toBe(1);
    expect(s.totals.attach).toEqual({ ops: 2, errors: 0 });
  });

  it('a paging domain bitmap is fixed at its first attach; a later attach behind an instance lacking a size fails and the previous attachment stays', () => {
    const cfg = { iommus: [{ name: 'big' }, { name: 'small', pageSizes: ['4K'] }], devices: { '0000:04:00.0': { iommu: 'small' } } };
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 }, // behind "big": 4K|2M|1G
        { op: 'attach', device: DEV2, domain: 2 },
        { op: 'attach', device: DEV2, domain: 1 }, // "small" lacks 2M: EINVAL
        { op: 'map', domain: 2, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV2, iova: 0, size: 4 }, // still domain 2
      ],
      cfg,
    );
    expect(s.totals.attach).toEqual({ ops: 3, errors: 1 });
    expect(s.totals.dma.faults).toBe(0);
    // The other way round works: a 4K-only domain on the big instance.
    const t = replayEvents(
      [
        { op: 'attach', device: DEV2, domain: 3 },
        { op: 'attach', device: DEV, domain: 3 },
      ],
      cfg,
    );
    expect(t.totals.attach.errors).toBe(0);
  });

  it('a paging domain mapped before any attach takes the first instance bitmap', () => {
    const cfg = { iommus: [{ name: 'a', pageSizes: ['4K'] }, { name: 'b' }], devices: { '0000:04:00.0': { iommu: 'b' } } };
    const s = replayEvents(
      [
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 }, // 4K only: 512 x 4K
        { op: 'attach', device: DEV2, domain: 1 }, // b has 4K: compatible
      ],
      cfg,
    );
    expect(s.totals.map.pages).toMatchObject({ '4K': 512, '2M': 0 });
    expect(s.totals.attach.errors).toBe(0);
  });

  it('attaching what is already attached, or blocked where nothing is, changes nothing but counts an op', () => {
    const s = replayEvents([
      { op: 'detach', device: DEV },
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'attach', device: DEV, domain: 1 },
    ]);
    expect(s.totals.attach).toEqual({ ops: 3, errors: 0 });
    expect(s.totals.invalidation.flushes).toBe(0);
  });

  it('an SVA domain attached with pasid 0 fails EINVAL', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 4 },
        { op: 'attach', device: DEV, pasid: 2, domain: 4 },
      ],
      {},
      { domains: { 4: 'sva' } },
    );
    expect(s.totals.attach).toEqual({ ops: 2, errors: 1 });
  });

  it('SVA domains use svaPageSizes whatever the IOMMU bitmap', () => {
    const s = replayEvents([{ op: 'map', domain: 4, iova: 0, paddr: 0, size: M2 }], { pageSizes: ['4K'] }, { domains: { 4: 'sva' } });
    expect(domainRow(s, 4).map.pages).toEqual({ '2M': 1 });
  });

  it('domain IDs are the lowest free >= 2 per instance, released on last detach, ENOSPC when exhausted', () => {
    // domainIds 4: DIDs 2 and 3 are all there is.
    const s = replayEvents(
      [
        { op: 'attach', device: 0x100, domain: 1 }, // DID 2
        { op: 'attach', device: 0x200, domain: 2 }, // DID 3
        { op: 'attach', device: 0x300, domain: 3 }, // ENOSPC
        { op: 'attach', device: 0x300, domain: 7 }, // identity: DID 1, no allocation
        { op: 'detach', device: 0x100 }, // releases DID 2
        { op: 'attach', device: 0x300, domain: 3 }, // DID 2
        { op: 'attach', device: 0x400, domain: 2 }, // domain 2 already has DID 3 here: no allocation
      ],
      { domainIds: 4 },
      { domains: { 7: 'identity' } },
    );
    expect(s.totals.attach).toEqual({ ops: 7, errors: 1 });
  });

  it('when an attachment moves, the new DID is allocated before the old one is released', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: 0x100, domain: 1 }, // DID 2 (the only one)
        { op: 'attach', device: 0x100, domain: 2 }, // needs a DID before 1 releases 2: ENOSPC
      ],
      { domainIds: 3 },
    );
    expect(s.totals.attach.errors).toBe(1);
  });

  it('domain IDs are per instance: the same domain gets a DID on each instance', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 1 },
      ],
      { domainIds: 3, iommus: [{ name: 'a' }, { name: 'b' }], devices: { '0000:04:00.0': { iommu: 'b' } } },
    );
    expect(s.totals.attach.errors).toBe(0);
  });
});

describe('review regressions', () => {
  it('unmap.bytes counts a whole leaf that starts before the cursor (whole-leaf)', () => {
    const s = replayEvents([
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 },
      { op: 'unmap', domain: 1, iova: K4, size: K4 },
    ]);
    expect(s.totals.unmap).toMatchObject({ bytes: M2, pages: { '2M': 1 } });
  });

  it('a rejected map, a failed attach or an unmap does not fix the bitmap', () => {
    const cfg = {
      domainIds: 3,
      iommus: [{ name: 'a' }, { name: 'b', pageSizes: ['4K'] }],
      devices: { '0000:01:00.0': { iommu: 'b' }, '0000:02:00.0': { iommu: 'b' }, '0000:03:00.0': { iommu: 'a' } },
    };
    const s = replayEvents(
      [
        { op: 'attach', device: 0x100, domain: 1 },
        { op: 'attach', device: 0x200, domain: 2 }, // ENOSPC on b: domain 2 stays open
        { op: 'attach', device: 0x300, domain: 2 }, // fixed to a's sizes
        { op: 'map', domain: 2, iova: 0, paddr: 0, size: M2 },
      ],
      cfg,
    );
    expect(s.totals.attach.errors).toBe(1);
    expect(s.totals.map.pages).toMatchObject({ '2M': 1 });
    const t = replayEvents(
      [
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
        { op: 'map', domain: 1, iova: 0x800, paddr: 0, size: K4 },
        { op: 'attach', device: 0x100, domain: 1 }, // behind b (4K): still compatible
      ],
      cfg,
    );
    expect(t.totals.attach.errors).toBe(0);
  });

  it('timestamps beyond 2^53 ns keep exact flush-queue timing and are reported exactly', () => {
    const T = 1700000000000000000n;
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 4 },
      { op: 'unmap', domain: 1, iova: 0, size: K4 },
    ].map((e) => ({ ...e, ts: T as unknown as number })) as Ev[];
    ev.push({ ts: (T + 9999800n) as unknown as number, op: 'dma_read', device: DEV, iova: 0, size: 4 });
    const s = replayEvents(ev, { invalidation: { mode: 'lazy' } });
    expect(s.totals.invalidation.flushes).toBe(0);
    expect(s.totals.iotlb.staleHits).toBe(1);
    expect(s.trace.firstTs).toBe(T);
    expect(s.trace.spanNs).toBe(9999800);
  });

  it('a flush op on an identity domain is a domain-wide flush of its tags', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 5 },
        { op: 'flush', domain: 5 },
      ],
      { devices: { '0000:03:00.0': { devtlb: true } } },
      { domains: { 5: 'identity' } },
    );
    expect(s.totals.invalidation).toMatchObject({ flushes: 1, commands: { domain: 1, devtlb: 1, wait: 1 } });
  });

  it('an SVA entry filled for one domain is checked against the page table of the domain that hits it', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, pasid: 5, domain: 10 },
        { op: 'attach', device: DEV2, pasid: 5, domain: 11 },
        { op: 'map', domain: 10, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV, pasid: 5, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV2, pasid: 5, iova: 0, size: 4 },
      ],
      {},
      { domains: { 10: 'sva', 11: 'sva' } },
    );
    expect(s.totals.iotlb).toMatchObject({ hits: 1, staleHits: 1 });
  });

  for (const vendor of ['vtd', 'amd', 'smmuv3']) {
    it(`§5 an SVA domain has no flush queue: in lazy mode its unmaps are synced at once (${vendor})`, () => {
      // Linux invalidates an SVA domain through the mmu notifier (intel_arch_invalidate_secondary_tlbs(),
      // arm_smmu_mm_arch_invalidate_secondary_tlbs(), AMD's sva notifier) at every change of the
      // process's page table; iommu.strict=0 gives a flush queue to DMA-API domains only (IOMMU_DOMAIN_DMA_FQ).
      const ev: Ev[] = [
        { op: 'attach', device: DEV, pasid: 5, domain: 10 },
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 10, iova: 0, paddr: 0, size: K4 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV, pasid: 5, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'unmap', domain: 10, iova: 0, size: K4 },
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
        { op: 'dma_read', device: DEV, pasid: 5, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
      ];
      const lazy = replayEvents(ev, { vendor, invalidation: { mode: 'lazy' } }, { domains: { 10: 'sva' } });
      const strict = replayEvents(ev, { vendor }, { domains: { 10: 'sva' } });
      // The SVA domain: the same commands as strict, no stale hit; the paging domain: queued, one stale hit.
      const { reusedBeforeFlush, ...svaLazy } = domainRow(lazy, 10).invalidation;
      expect(reusedBeforeFlush).toEqual({ maps: 0, pages: 0 });
      expect(svaLazy).toEqual(domainRow(strict, 10).invalidation);
      expect(svaLazy.syncs).toBe(1);
      expect(domainRow(lazy, 10).iotlb.staleHits).toBe(0);
      expect(domainRow(lazy, 1).iotlb.staleHits).toBe(1);
      expect(domainRow(lazy, 1).invalidation.syncs).toBe(0);
      expect(lazy.totals.dma.faults).toBe(1); // the SVA read after its unmap
    });
  }

  it('page sizes of 16T and above index the IOTLB by their own page number', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 2n ** 44n },
        { op: 'dma_read', device: DEV, iova: K4, size: 4 },
        { op: 'dma_read', device: DEV, iova: K4, size: 4 },
      ],
      { pageSizes: ['4K', '16T'] },
    );
    expect(s.totals.iotlb).toMatchObject({ hits: 1 });
    expect(s.totals.walks.count).toBe(1);
  });
});

describe('§1 topology', () => {
  it('instances come from the configuration, else the trace topology, else one iommu0', () => {
    const topo = {
      iommus: [
        { name: 't0', devices: [] },
        { name: 't1', devices: [DEV] },
      ],
    };
    expect(replayEvents([], {}, {}).config.iommus!.map((m) => m.name)).toEqual(['iommu0']);
    expect(replayEvents([], {}, { topology: topo }).config.iommus!.map((m) => m.name)).toEqual(['t0', 't1']);
    expect(replayEvents([], { iommus: [{ name: 'c' }] }, { topology: topo }).config.iommus!.map((m) => m.name)).toEqual(['c']);
  });

  it('a device sits behind the configured instance, else the trace one when it exists, else the first', () => {
    const topo = {
      iommus: [
        { name: 'x', devices: [] },
        { name: 'y', devices: [DEV, DEV2] },
      ],
    };
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'attach', device: DEV2, domain: 1 },
      { op: 'attach', device: 0x500, domain: 1 },
    ];
    const s = replayEvents(ev, { devices: { '0000:04:00.0': { iommu: 'x' } } }, { topology: topo });
    expect(s.byDevice.map((d) => `${d.device}@${d.iommu}`)).toEqual(['0000:03:00.0@y', '0000:04:00.0@x', '0000:05:00.0@x']);
    const t = replayEvents(ev, { iommus: [{ name: 'q' }, { name: 'x' }] }, { topology: topo });
    expect(t.byDevice.map((d) => d.iommu)).toEqual(['q', 'q', 'q']); // "y" does not exist: first instance
  });
});

describe('§7 costs', () => {
  it('translation and invalidation costs are counts times the configured prices', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 4 },
        { op: 'unmap', domain: 1, iova: 0, size: K4 },
      ],
      { costs: { iotlbHit: 3, walkAccess: 100, pageInvalidation: 7, wait: 11 } },
    );
    expect(s.totals.costNs).toEqual({ translation: 3 + 4 * 100, invalidation: 7 + 11 });
  });
});
