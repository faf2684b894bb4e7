// The page-table estimate behind --max-table-memory (model/tablememory.ts):
// never below what a map really allocates, and close to it.
import { describe, expect, it } from 'vitest';
import { expandSweep } from '../../src/config/sweep.js';
import { parseByteSize } from '../../src/config/limits.js';
import { PageSizeSet } from '../../src/config/pagesizes.js';
import { LPAE_LEAVES, lpaeFormat, x86Format, type TableFormat } from '../../src/config/tableformat.js';
import { PageTablePool } from '../../src/model/pagetable.js';
import { splitRange } from '../../src/model/pgsize.js';
import { tablePagesForMap } from '../../src/model/tablememory.js';
import { Rng } from '../../src/workloads/rng.js';

const SETS = [[12], [12, 21], [12, 21, 30], [14, 25], [16, 29], [12, 13, 16, 21, 22, 30, 35]];

describe('tablePagesForMap bounds what a map allocates', () => {
  for (let t = 0; t < 6; t++) {
    it(`seeded maps, set ${SETS[t].join('|')}`, () => {
      const rng = new Rng(1000 + t);
      const sizes = new PageSizeSet(SETS[t]);
      const g = sizes.granuleOrder;
      for (let k = 0; k < 200; k++) {
        // Under LPAE (model §9.2) when the set is made of its granule's leaves, half the time.
        const lpae = SETS[t].every((l) => LPAE_LEAVES[SETS[t][0]]?.includes(l)) && rng.float() < 0.5;
        const format: TableFormat = lpae ? lpaeFormat(SETS[t][0]) : x86Format(rng.float() < 0.5 ? 4 : 5);
        const levels = format.levels;
        const pool = new PageTablePool(format);
        const root = pool.newRoot();
        const span = 2 ** Math.floor(rng.float() * 22); // pages
        const align = (x: number) => Math.floor(x / 2 ** g) * 2 ** g;
        const iova = align(Math.floor(rng.float() * 2 ** 26));
        const paddr = rng.float() < 0.5 ? iova : align(Math.floor(rng.float() * 2 ** 26));
        const size = Math.max(2 ** g, align(span));
        const est = tablePagesForMap(format, sizes.ordersDesc, iova, paddr, size);
        const before = pool.alive;
        splitRange(pool, sizes.ordersDesc, iova, paddr, size, root, null, 0);
        const used = pool.alive - before;
        expect(est, `${iova}+${size}`).toBeGreaterThanOrEqual(used);
        expect(est, `${iova}+${size}`).toBeLessThanOrEqual(used + 2 * levels);
      }
    });
  }

  it('a 2 TiB map in 4K pages needs a million table pages; in 1G pages, a handful', () => {
    const pages = 2 ** 29;
    expect(tablePagesForMap(x86Format(4), new PageSizeSet([12]).ordersDesc, 0, 0, pages)).toBe(2 ** 20 + 2 ** 11 + 4);
    expect(tablePagesForMap(x86Format(4), new PageSizeSet([12, 21, 30]).ordersDesc, 0, 0, pages)).toBe(4);
  });
});

describe('limits on the command line', () => {
  it('--max-table-memory takes sizes', () => {
    expect(parseByteSize('max-table-memory', '512M')).toBe(2 ** 29);
    expect(parseByteSize('max-table-memory', '4GiB')).toBe(2 ** 32);
    expect(parseByteSize('max-table-memory', '1048576')).toBe(2 ** 20);
    expect(() => parseByteSize('max-table-memory', '-1G')).toThrow('Invalid option --max-table-memory: expected a size like 512M, 4G or 1T, got "-1G"');
  });

  it('--max-points: the product of the axes, checked before any point is built', () => {
    const shortForms = { iotlb: ['32x4', '64x4', '128x8'], mode: ['strict', 'lazy'] };
    expect(expandSweep({}, shortForms, 'cli', 6)).toHaveLength(6);
    expect(() => expandSweep({}, shortForms, 'cli', 5)).toThrow(
      'Invalid sweep: 6 points (iotlb: 3 x invalidation.mode: 2), over the limit of 5; raise it with --max-points',
    );
    const huge = { sweep: { seed: Array.from({ length: 3000 }, (_, i) => i), 'costs.wait': Array.from({ length: 3000 }, (_, i) => i) } };
    const t0 = performance.now();
    expect(() => expandSweep(huge, {}, 'big.json')).toThrow('Invalid sweep: 9,000,000 points (seed: 3000 x costs.wait: 3000), over the limit of 10,000');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a 64K-granule table page holds 8192 entries: 2 TiB in 64K pages needs 4096 leaf tables and 1 above (model §9.2)', () => {
    // 2^25 leaves of 64K: 2^25 / 8192 = 4096 leaf tables, under 1 table of level 2 (spanning 4 TiB).
    expect(tablePagesForMap(lpaeFormat(16), new PageSizeSet([16]).ordersDesc, 0, 0, 2 ** 29)).toBe(4096 + 1);
  });
});
