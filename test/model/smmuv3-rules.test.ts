// One test per rule of docs/model.md §9 for smmuv3 (Arm SMMUv3 as Linux's
// arm-smmu-v3 and io-pgtable-arm drive it), counters written out by hand.
import { describe, expect, it } from 'vitest';
import { lpaeFormat, tableFormatFor, x86Format } from '../../src/config/tableformat.js';
import { PageTablePool, tablePageCostBytes, type LeafSink } from '../../src/model/pagetable.js';

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
    expect(() => tableFormatFor('smmuv3', 4, [{ field: 'pageSizes', log2s: [13, 21] }])).toThrow(/pageSizes: under smmuv3 the smallest page size \(the granule\) must be 4K, 16K or 64K, not 8K/);
    expect(() => tableFormatFor('smmuv3', 4, [{ field: 'iommus[0].pageSizes', log2s: [16, 21] }])).toThrow(/iommus\[0\]\.pageSizes: 2M is not a leaf of io-pgtable-arm's 64K granule \(its leaves: 64K\+512M\)/);
    expect(() =>
      tableFormatFor('smmuv3', 4, [
        { field: 'iommus[0].pageSizes', log2s: [12, 21] },
        { field: 'iommus[1].pageSizes', log2s: [16] },
      ]),
    ).toThrow(/iommus\[1\]\.pageSizes: its granule 64K differs from iommus\[0\]\.pageSizes's 4K/);
  });
});
