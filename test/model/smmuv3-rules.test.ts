// One test per rule of docs/model.md §9 for smmuv3 (Arm SMMUv3 as Linux's
// arm-smmu-v3 and io-pgtable-arm drive it), counters written out by hand.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { lpaeFormat, tableFormatFor, x86Format } from '../../src/config/tableformat.js';
import { PageTablePool, tablePageCostBytes, type LeafSink } from '../../src/model/pagetable.js';
import { atcOut, atcSpan, cmdSyncs, rilCommands } from '../../src/invalidation/smmuv3.js';
import { G1, K4, M2, type Ev } from '../helpers/events.js';
import { consumeInTwo, domainRow, metaOf, replayEvents } from '../helpers/replay.js';
import { randomCase, staleCase } from '../helpers/random-case.js';
import { countersOf, memFeed, replayAt } from '../helpers/curve.js';
import { lruStackCurve } from '../../src/run/curve.js';
import { replayMarkdown } from '../../src/report/markdown.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';

const DEV = 0x300; // 0000:03:00.0
const DEV2 = 0x400; // 0000:04:00.0
const DEV3 = 0x500; // 0000:05:00.0
const SMMU = { vendor: 'smmuv3' };
/** Two SMMUs, DEV behind smmu0, DEV2 and DEV3 behind smmu1. */
const TWO_SMMUS = {
  ...SMMU,
  iommus: [{ name: 'smmu0' }, { name: 'smmu1' }],
  devices: { '0000:04:00.0': { iommu: 'smmu1' }, '0000:05:00.0': { iommu: 'smmu1' } },
};

const NO_SINK: LeafSink = { leafRemoved: () => {} };
/** Orders (log2(size) − 12) of the sizes the tests map. */
const O64K = 4;
const O512M = 17;
const O16K = 2;
const O32M = 13;

describe('§9.2 page tables: io-pgtable-arm LPAE', () => {
  it('a 64K-granule walk: 3 levels of 8192 entries, 3 accesses to a 64K leaf, 2 to a 512M leaf', () => {
    const f = lpaeFormat(16);
    expect(f).toMatchObject({ kind: 'lpae', levels: 3, bitsPerLevel: 13, entries: 8192, tablePageBytes: 65536 });
    const pool = new PageTablePool(f);
    const root = pool.newRoot();
    pool.install(root, 0, O64K, 0); // a 64K leaf at iova 0
    pool.install(root, 2 ** O512M, O512M, 2 ** O512M); // a 512M leaf at iova 512M
    expect(pool.lookup(root, 3)).toBe(O64K);
    expect(pool.lookup(root, 2 ** O512M + 12345)).toBe(O512M);
    expect(pool.walkAccesses(O64K)).toBe(3);
    expect(pool.walkAccesses(O512M)).toBe(2);
    // Root (64 entries of 4T), one level-2 table (8192 entries of 512M, the 512M leaf among them), one level-1 table (8192 × 64K).
    expect(pool.alive).toBe(3);
  });

  it('a 16K granule: 4 levels of 2048 entries (ceil(34 / 11)); 16K = 4 accesses, 32M = 3', () => {
    const f = lpaeFormat(14);
    expect(f).toMatchObject({ levels: 4, bitsPerLevel: 11, entries: 2048, tablePageBytes: 16384 });
    const pool = new PageTablePool(f);
    const root = pool.newRoot();
    pool.install(root, 2 ** O32M, O16K, 7);
    expect(pool.alive).toBe(4); // root + 3 tables down to the 16K level
    expect(pool.walkAccesses(O16K)).toBe(4);
    expect(pool.walkAccesses(O32M)).toBe(3);
  });

  it('a 4K granule is the x86 geometry: 4 levels of 512, 4K/2M/1G = 4/3/2', () => {
    const f = lpaeFormat(12);
    expect(f).toMatchObject({ levels: 4, bitsPerLevel: 9, entries: 512, tablePageBytes: 4096 });
    const pool = new PageTablePool(f);
    expect([0, 9, 18].map((o) => pool.walkAccesses(o))).toEqual([4, 3, 2]);
  });

  it('table pages of a 64K granule count 64 KiB each and cost the budget their 8192 entries', () => {
    const pool = new PageTablePool(lpaeFormat(16));
    const root = pool.newRoot();
    // 64K leaves at 0 and at 512M: the root, one level-2 table, two level-1 tables.
    pool.install(root, 0, O64K, 0);
    pool.install(root, 2 ** O512M, O64K, 0);
    expect(pool.peak).toBe(4);
    expect(pool.format.tablePageBytes * pool.peak).toBe(4 * 65536);
    expect(pool.tablePageCostBytes).toBe(tablePageCostBytes(8192));
    expect(pool.tablePageCostBytes).toBe(16 * new PageTablePool(4).tablePageCostBytes);
    // Unmapping the whole 1G frees both level-1 tables (their spans lie in it), as for x86; the level-2 table spans 4T and stays.
    pool.clear(root, 0, 2 ** 18, NO_SINK);
    expect(pool.alive).toBe(2);
  });

  it('the input address space is 48 bits whatever the granule', () => {
    for (const g of [12, 14, 16]) expect(new PageTablePool(lpaeFormat(g)).limitPfn).toBe(2 ** 36);
  });

  it('under smmuv3 the granule is the smallest size; a non-LPAE granule, a non-leaf size or two granules are configuration errors naming the bitmap', () => {
    expect(tableFormatFor('vtd', 5, [{ field: 'pageSizes', log2s: [16, 29] }])).toEqual(x86Format(5));
    expect(tableFormatFor('smmuv3', 4, [{ field: 'pageSizes', log2s: [16, 29] }])).toEqual(lpaeFormat(16));
    expect(() => tableFormatFor('smmuv3', 4, [{ field: 'pageSizes', log2s: [13, 21] }])).toThrow(
      /pageSizes: under smmuv3 the smallest page size \(the granule\) must be 4K, 16K or 64K, not 8K/,
    );
    expect(() => tableFormatFor('smmuv3', 4, [{ field: 'iommus[0].pageSizes', log2s: [16, 21] }])).toThrow(
      /iommus\[0\]\.pageSizes: 2M is not a leaf of io-pgtable-arm's 64K granule \(its leaves: 64K\+512M\)/,
    );
    expect(() =>
      tableFormatFor('smmuv3', 4, [
        { field: 'iommus[0].pageSizes', log2s: [12, 21] },
        { field: 'iommus[1].pageSizes', log2s: [16] },
      ]),
    ).toThrow(/iommus\[1\]\.pageSizes: its granule 64K differs from iommus\[0\]\.pageSizes's 4K/);
  });
});

describe('§9.2 under a replay: walks and table pages', () => {
  it('a 64K-granule domain walks 3 accesses to a 64K leaf and 2 to a 512M leaf; its table pages are 64 KiB pages', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 64 * 1024 },
        { op: 'map', domain: 1, iova: 512 * 1024 * 1024, paddr: 512 * 1024 * 1024, size: 512 * 1024 * 1024 },
        { op: 'dma_read', device: DEV, iova: 0, size: 1 },
        { op: 'dma_read', device: DEV, iova: 512 * 1024 * 1024, size: 1 },
      ],
      { ...SMMU, preset: 'arm-smmu-64k' },
    );
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 3 + 2 });
    // Root, one level-2 table, one level-1 table (under VT-d's layout: 4 tables of 4 KiB).
    expect(s.totals.pageTable.peakTablePages).toBe(3);
  });

  it("the replay report gives the granule's levels and table-page bytes", () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 64 * 1024 },
      ],
      { preset: 'arm-smmu-64k' },
    );
    const md = replayMarkdown(s);
    expect(md).toContain('3-level tables');
    expect(md).toContain('Peak page-table pages: 3 (192.0 KiB).');
  });

  it('a 16K-granule domain has 4 levels: 16K = 4 accesses, 32M = 3', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 16 * 1024 },
        { op: 'map', domain: 1, iova: 32 * 1024 * 1024, paddr: 32 * 1024 * 1024, size: 32 * 1024 * 1024 },
        { op: 'dma_read', device: DEV, iova: 0, size: 1 },
        { op: 'dma_read', device: DEV, iova: 32 * 1024 * 1024, size: 1 },
      ],
      { ...SMMU, preset: 'arm-smmu-16k' },
    );
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 4 + 3 });
  });
});

describe('§9.3 invalidation: command arithmetic', () => {
  it('SMMU range split of 35 pages: 2 commands (3, then 32)', () => {
    expect(rilCommands(35)).toBe(2);
    // research §5.2's table
    expect([1, 2, 31, 32, 512, 262144].map(rilCommands)).toEqual([1, 1, 1, 1, 1, 1]);
    expect([33, 511, 513, 1000, 1023].map(rilCommands)).toEqual([2, 2, 2, 2, 2]);
  });

  it('CMD_SYNCs of a batch: one whatever the count; under the erratum 1 + floor((n − 1) / 63)', () => {
    expect([1, 64, 100, 511].map((n) => cmdSyncs(n, false))).toEqual([1, 1, 1, 1]);
    expect([63, 64, 100, 127, 511].map((n) => cmdSyncs(n, true))).toEqual([1, 2, 2, 3, 9]);
  });

  it('the ATC span is the aligned power-of-two block of 4K pages around the range', () => {
    expect(atcSpan(1, 2)).toBe(0);
    expect(atcOut.start).toBe(1);
    expect(atcSpan(3, 5)).toBe(3); // pages 3..4 differ in bit 2: 8 pages at 0
    expect(atcOut.start).toBe(0);
  });
});

describe('§9.3 invalidation under a replay', () => {
  const HUNDRED: Ev[] = [
    { op: 'attach', device: DEV, domain: 1 },
    { op: 'map', domain: 1, iova: 0, paddr: 0, size: 100 * K4 },
    { op: 'unmap', domain: 1, iova: 0, size: 100 * K4 },
  ];

  it('35 pages unmapped with RIL: one sync, 2 TLBI_NH_VA and 1 CMD_SYNC', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 35 * K4 },
        { op: 'unmap', domain: 1, iova: 0, size: 35 * K4 },
      ],
      { ...SMMU, pageSizes: ['4K'] },
    );
    expect(s.totals.invalidation.syncs).toBe(1);
    expect(s.totals.invalidation.commands).toMatchObject({ page: 2, domain: 0, devtlb: 0, wait: 1 });
  });

  it('100 TLBIs without RIL go out with one CMD_SYNC, and with two under the erratum', () => {
    const noRil = replayEvents(HUNDRED, { ...SMMU, pageSizes: ['4K'], smmu: { rangeInvalidation: false } });
    expect(noRil.totals.invalidation.commands).toMatchObject({ page: 100, domain: 0, devtlb: 0, wait: 1 });
    const erratum = replayEvents(HUNDRED, { ...SMMU, pageSizes: ['4K'], smmu: { rangeInvalidation: false, forceSyncErratum: true } });
    expect(erratum.totals.invalidation.commands).toMatchObject({ page: 100, domain: 0, devtlb: 0, wait: 2 });
  });

  // The research writes the range [0x1000, 0x402000), but its leaves (511×4K, 2M, 4K) and counts are those of
  // §3's example B, iova 0x1000 and 4 MiB: [0x1000, 0x401000). (0x402000 would end with 2×4K: 514 without RIL.)
  it("the research's §5.2 example: 4 MiB at 0x1000 as 511×4K, 2M, 4K: 3 syncs, 4 TLBIs (RIL), 513 without, 11 CMD_SYNCs under the erratum", () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0x1000, paddr: 0x1000, size: 0x400000 },
      { op: 'unmap', domain: 1, iova: 0x1000, size: 0x400000 },
    ];
    const ril = replayEvents(ev, SMMU);
    expect(ril.totals.invalidation.syncs).toBe(3);
    expect(ril.totals.invalidation.commands).toMatchObject({ page: 4, domain: 0, devtlb: 0, wait: 3 });
    const noRil = replayEvents(ev, { ...SMMU, smmu: { rangeInvalidation: false } });
    expect(noRil.totals.invalidation.commands).toMatchObject({ page: 513, wait: 3 });
    const erratum = replayEvents(ev, { ...SMMU, smmu: { rangeInvalidation: false, forceSyncErratum: true } });
    expect(erratum.totals.invalidation.commands).toMatchObject({ page: 513, wait: 11 });
  });

  it('with ATS: the TLBIs and a CMD_SYNC, then one ATC_INV per (device, PASID) and one CMD_SYNC', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV, pasid: 5, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: 3 * K4 },
        { op: 'unmap', domain: 1, iova: 0, size: 3 * K4 },
      ],
      { ...SMMU, devices: { '0000:03:00.0': { devtlb: true } } },
    );
    // 3 pages: one range command (one ASID for both PASIDs), one CMD_SYNC; 2 ATC_INV, one CMD_SYNC.
    expect(s.totals.invalidation.commands).toMatchObject({ page: 1, domain: 0, devtlb: 2, wait: 2 });
  });

  it('a domain-wide flush: TLBI_NH_ASID + CMD_SYNC, then ATC_INV all per ATS attachment + CMD_SYNC', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'flush', domain: 1 },
      ],
      { ...SMMU, devices: { '0000:03:00.0': { devtlb: true } } },
    );
    expect(s.totals.invalidation.commands).toMatchObject({ page: 0, domain: 1, devtlb: 1, wait: 2 });
    expect(s.totals.invalidation.flushes).toBe(1);
  });

  it('teardown sends no TLBI; an ATS device gets ATC_INV all + CMD_SYNC; entries stay tagged with the ASID', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 1 },
      { op: 'detach', device: DEV },
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'dma_read', device: DEV, iova: 0, size: 1 },
    ];
    const s = replayEvents(ev, SMMU);
    expect(s.totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, devtlb: 0, wait: 0 });
    expect(s.totals.invalidation.flushes).toBe(0);
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 1 }); // the re-attached domain hits its own entry
    const ats = replayEvents(ev, { ...SMMU, devices: { '0000:03:00.0': { devtlb: true } } });
    expect(ats.totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, devtlb: 1, wait: 1 });
  });

  it('a paging domain attached nowhere: its unmap sends TLBI_NH_VA + CMD_SYNC to its SMMU (no ATC_INV), which removes the kept entry', () => {
    // Linux keeps smmu_domain->smmu and the ASID after arm_smmu_detach_dev(); arm_smmu_iotlb_sync() does not look at the masters.
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
      { op: 'dma_read', device: DEV, iova: 0, size: 1 }, // fills (ASID 1, page 0)
      { op: 'detach', device: DEV }, // no TLBI: the entry stays
      { op: 'unmap', domain: 1, iova: 0, size: K4 }, // nothing attached: TLBI_NH_VA on ASID 1 all the same
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'dma_read', device: DEV, iova: 0, size: 1 }, // the entry is gone: a miss (a fault: the page is unmapped)
    ];
    const s = replayEvents(ev, SMMU);
    expect(s.totals.invalidation).toMatchObject({ syncs: 1, commands: { page: 1, domain: 0, devtlb: 0, wait: 1 }, entriesRemoved: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 0, staleHits: 0 }); // (before: a stale hit on the kept entry)
    // ATS: ATC_INV all + CMD_SYNC at the detach (arm_smmu_disable_ats()); the unmap sends no ATC_INV (nr_ats_masters is 0).
    const ats = replayEvents(ev, { ...SMMU, devices: { '0000:03:00.0': { devtlb: true } } });
    expect(ats.totals.invalidation.commands).toMatchObject({ page: 1, domain: 0, devtlb: 1, wait: 2 });
    // Lazy: the unmap is queued; its entry still hits, stale, until a flush of the queue.
    const lazy = replayEvents(ev, { ...SMMU, invalidation: { mode: 'lazy' } });
    expect(lazy.totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, wait: 0 });
    expect(lazy.totals.iotlb).toMatchObject({ lookups: 2, hits: 1, staleHits: 1 });
  });

  it('a paging domain attached nowhere: a flush sends TLBI_NH_ASID + CMD_SYNC to its SMMU; a domain never attached sends nothing', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'dma_read', device: DEV, iova: 0, size: 1 },
        { op: 'detach', device: DEV },
        { op: 'flush', domain: 1 }, // arm_smmu_flush_iotlb_all(): smmu_domain->smmu is set
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'dma_read', device: DEV, iova: 0, size: 1 },
        { op: 'map', domain: 2, iova: 0, paddr: 0, size: K4 },
        { op: 'unmap', domain: 2, iova: 0, size: K4 }, // never attached: no SMMU, no ASID
        { op: 'flush', domain: 2 },
      ],
      SMMU,
    );
    expect(s.totals.invalidation).toMatchObject({ commands: { page: 0, domain: 1, devtlb: 0, wait: 1 }, flushes: 2, entriesRemoved: 1 });
    expect(s.totals.iotlb).toMatchObject({ lookups: 2, hits: 0 }); // the flush removed the kept entry
  });

  it('maps send nothing', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 },
      ],
      SMMU,
    );
    expect(s.totals.invalidation.commands).toMatchObject({ page: 0, domain: 0, devtlb: 0, wait: 0 });
  });
});

describe('§9.1 ASIDs and SMMUs', () => {
  it('ASID exhaustion across two SMMUs: one space, IDs 1..2^bits − 1; the attach that finds it full fails', () => {
    // asidBits 2: ASIDs 1, 2, 3. Domains 1 (smmu0), 2 and 3 (smmu1) take them; domain 4 (smmu1) finds none.
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 2 },
        { op: 'attach', device: DEV3, domain: 3 },
        { op: 'attach', device: DEV3, domain: 4 },
        // A domain at a second PASID keeps its one ASID: no new one is needed.
        { op: 'attach', device: DEV, pasid: 1, domain: 1 },
      ],
      { ...TWO_SMMUS, smmu: { asidBits: 2 } },
    );
    expect(s.totals.attach).toMatchObject({ ops: 5, errors: 1 });
  });

  it('ASIDs are kept after the last detach: a new domain does not get a freed one', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'detach', device: DEV },
        { op: 'attach', device: DEV, domain: 2 },
      ],
      { ...SMMU, smmu: { asidBits: 1 } }, // one ASID
    );
    expect(s.totals.attach).toMatchObject({ ops: 3, errors: 1 });
  });

  it('one domain on two SMMUs is refused, and the previous attachment stays', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, domain: 1 },
        { op: 'attach', device: DEV2, domain: 2 },
        { op: 'map', domain: 1, iova: 0, paddr: 0, size: K4 },
        { op: 'attach', device: DEV2, domain: 1 }, // behind smmu1: refused
        { op: 'dma_read', device: DEV2, iova: 0, size: 1 }, // still domain 2, which maps nothing: a fault
      ],
      TWO_SMMUS,
    );
    expect(s.totals.attach).toMatchObject({ ops: 3, errors: 1 });
    expect(s.totals.dma.faults).toBe(1);
    expect(domainRow(s, 2)).toBeDefined();
  });

  it('SVA domains take ASIDs from the same space and may span SMMUs', () => {
    const s = replayEvents(
      [
        { op: 'attach', device: DEV, pasid: 1, domain: 7 },
        { op: 'attach', device: DEV2, pasid: 1, domain: 7 },
        { op: 'attach', device: DEV2, domain: 1 },
      ],
      { ...TWO_SMMUS, smmu: { asidBits: 1 } },
      { domains: { 7: 'sva' } },
    );
    expect(s.totals.attach).toMatchObject({ ops: 3, errors: 1 }); // domain 1 finds the one ASID taken by the SVA domain
  });
});

describe('§9.3 a table met by an unmap chunk (io-pgtable-arm: walk flush at once)', () => {
  it('a 2M chunk over 512 × 4K leaves: one non-leaf range command + CMD_SYNC at once, no gathered sync of its leaves', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0x1000, size: M2 }, // paddr only 4K-aligned: 512 × 4K leaves
      { op: 'unmap', domain: 1, iova: 0, size: M2 }, // the core's chunk is 1 × 2M: a table at the 2M level
    ];
    const ril = replayEvents(ev, SMMU);
    expect(ril.totals.unmap).toMatchObject({ bytes: M2, pages: { '4K': 512 } });
    expect(ril.totals.invalidation.syncs).toBe(0);
    expect(ril.totals.invalidation.commands).toMatchObject({ page: 1, domain: 0, devtlb: 0, wait: 1 });
    // Without RIL one command per granule of the table's span: 512, in one CMD_SYNC.
    const noRil = replayEvents(ev, { ...SMMU, smmu: { rangeInvalidation: false } });
    expect(noRil.totals.invalidation.commands).toMatchObject({ page: 512, wait: 1 });
    // In lazy mode too (the flush queue holds the leaves, never a table's walk flush).
    const lazy = replayEvents(ev, { ...SMMU, invalidation: { mode: 'lazy' } });
    expect(lazy.totals.invalidation.commands).toMatchObject({ page: 1, wait: 1 });
    // The table page is freed: root + level-3 + level-2 tables at the peak, the level-2 table (level 1 here) gone after.
    expect(ril.totals.pageTable.peakTablePages).toBe(4);
  });

  it('a table emptied leaf by leaf is not freed (4K-only bitmap, chunks of 4K pages)', () => {
    const ev: Ev[] = [
      { op: 'attach', device: DEV, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: M2 }, // root, L3, L2, L1: 4 tables
      { op: 'unmap', domain: 1, iova: 0, size: M2 }, // one chunk of 512 × 4K: the L1 table stays (VT-d frees it)
      { op: 'map', domain: 1, iova: G1, paddr: 0, size: M2 }, // a new L2 and L1: 6 alive (VT-d: 5)
    ];
    const s = replayEvents(ev, { ...SMMU, pageSizes: ['4K'] });
    // The leaves are gathered (one sync, one range command of 512 pages), no table flush goes out.
    expect(s.totals.invalidation.syncs).toBe(1);
    expect(s.totals.invalidation.commands).toMatchObject({ page: 1, wait: 1 });
    expect(s.totals.pageTable.peakTablePages).toBe(6);
    expect(replayEvents(ev, { pageSizes: ['4K'] }).totals.pageTable.peakTablePages).toBe(5);
  });
});

describe('§9.2 configuration under smmuv3', () => {
  it("a bitmap that is not an LPAE granule's leaves is a configuration error naming it; pageTable.levels does not apply", () => {
    expect(() => resolveConfig({ vendor: 'smmuv3', pageSizes: ['8K'] })).toThrow(
      'Invalid config "config": pageSizes: under smmuv3 the smallest page size (the granule) must be 4K, 16K or 64K, not 8K (8K)',
    );
    expect(() => resolveConfig({ vendor: 'smmuv3', pageSizes: ['64K', '2M'] })).toThrow(
      'Invalid config "config": pageSizes: 2M is not a leaf of io-pgtable-arm\'s 64K granule (its leaves: 64K+512M)',
    );
    expect(() => resolveConfig({ vendor: 'smmuv3', iommus: [{ name: 'a' }, { name: 'b', pageSizes: ['16K'] }] })).toThrow(
      'Invalid config "config": iommus[1].pageSizes: its granule 16K differs from pageSizes\'s 4K',
    );
    // Given, pageTable.levels must be the granule's (§9.6: 4 for 4K and 16K, 3 for 64K), as a resolved configuration says.
    expect(() => resolveConfig({ vendor: 'smmuv3', pageTable: { levels: 5 } })).toThrow(
      'Invalid config "config": pageTable.levels: does not apply under smmuv3',
    );
    expect(() => resolveConfig({ vendor: 'smmuv3', pageSizes: ['64K'], pageTable: { levels: 4 } })).toThrow(
      'Invalid config "config": pageTable.levels: does not apply under smmuv3',
    );
    expect(() => resolveConfig({ vendor: 'smmuv3', pageTable: { levels: 3 } })).toThrow(
      'Invalid config "config": pageTable.levels: does not apply under smmuv3',
    );
    expect(resolveConfig({ vendor: 'smmuv3', pageTable: { levels: 4 } }).pageTable.levels).toBe(4);
    // The same bitmaps are fine under vtd (replicated entries, §9.2).
    expect(resolveConfig({ pageSizes: ['64K', '2M'] }).vendor).toBe('vtd');
    expect(resolveConfig({ preset: 'arm-smmu-64k' }).vendor).toBe('smmuv3');
  });

  it('an SVA domain under smmuv3 needs svaPageSizes of the same granule', () => {
    const ev: Ev[] = [{ op: 'attach', device: DEV, pasid: 1, domain: 7 }];
    expect(() => replayEvents(ev, { preset: 'arm-smmu-64k' }, { domains: { 7: 'sva' } })).toThrow(/svaPageSizes: its granule 4K differs from pageSizes's 64K/);
    expect(replayEvents(ev, { preset: 'arm-smmu-64k', svaPageSizes: ['64K', '512M'] }, { domains: { 7: 'sva' } }).totals.attach.errors).toBe(0);
  });
});

describe('the generated DMA loop under LPAE tables', () => {
  it('specialized and generic runs agree under smmuv3 on seeded random traces of each granule', () => {
    const sets = [['4K', '2M', '1G'], ['4K'], ['16K', '32M'], ['64K', '512M']];
    for (let seed = 1; seed <= 40; seed++) {
      const { events, config, meta } = randomCase(seed);
      const sizes = sets[seed % sets.length];
      const { pageTable: _levels, ...rest } = config;
      const cfg = {
        ...rest,
        vendor: 'smmuv3',
        pageSizes: sizes,
        svaPageSizes: sizes,
        ...(config.iommus ? { iommus: [{ name: 'a' }, { name: 'b', pageSizes: sizes }] } : {}),
      };
      const run = (generic: boolean) => {
        const r = new Replay(resolveConfig(cfg, 'lpae'), metaOf(meta), { generic });
        consumeInTwo(r, events);
        return stableStringify(buildSummary(r, ['t']));
      };
      const want = run(true);
      const got = run(false);
      if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
    }
  });
});

describe('the curve under LPAE tables', () => {
  it('a fully associative LRU curve equals replay at every size under smmuv3 (64K and 4K granules)', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const { events, config, meta } = seed % 2 ? staleCase(seed) : randomCase(seed);
      const sizes = seed % 3 === 0 ? ['64K', '512M'] : ['4K', '2M', '1G'];
      const { pageTable: _levels, ...rest } = config;
      const cfg = resolveConfig(
        {
          ...rest,
          vendor: 'smmuv3',
          pageSizes: sizes,
          svaPageSizes: sizes,
          ...(config.iommus ? { iommus: [{ name: 'a' }, { name: 'b', pageSizes: sizes }] } : {}),
        },
        'lpae',
      );
      const curve = await lruStackCurve(memFeed(events, meta), cfg, 8);
      for (let size = 1; size <= 8; size++) {
        const want = replayAt(events, cfg, meta, 1, size);
        const got = countersOf(curve.points[size - 1]);
        if (JSON.stringify(got) !== JSON.stringify(want)) expect({ seed, size, ...got }).toEqual({ seed, size, ...want });
      }
    }
  });
});
