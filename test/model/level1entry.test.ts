// PageTablePool.level1Entry (the batch loop's page check, through the walk
// memo) against `lookup`, the reference: on seeded random installs and clears
// (which free tables, so the memo must be emptied), several roots, pfns below
// and above 2^31 and at the limit, in 4- and 5-level x86 tables and LPAE
// formats, after each step a level-1 entry index must be lookup's (its leaf's
// foundIndex at level 1, or its emptyIndex with emptyLevel 1) or -1 when
// lookup's walk stopped above level 1.
import { describe, expect, it } from 'vitest';
import { lpaeFormat, x86Format, type TableFormat } from '../../src/config/tableformat.js';
import { PageTablePool, type LeafSink } from '../../src/model/pagetable.js';
import { Rng } from '../../src/workloads/rng.js';

const SINK: LeafSink = { leafRemoved: () => {} };

/** What level1Entry must give, from lookup. */
function expected(pool: PageTablePool, root: number, pfn: number): number {
  if (pfn >= pool.limitPfn) return -1;
  const order = pool.lookup(root, pfn);
  if (order >= 0) return pool.leafLevel(order) === 1 ? pool.foundIndex : -1;
  return pool.emptyLevel === 1 ? pool.emptyIndex : -1;
}

function check(seed: number, format: TableFormat): void {
  const rng = new Rng(seed);
  const pool = new PageTablePool(format, 4);
  const roots = [pool.newRoot(), pool.newRoot()];
  const g = format.granuleOrder;
  const bits = format.bitsPerLevel;
  const orders = [g, g + bits, g + 2 * bits].filter((o) => pool.leafLevel(o) < format.levels);
  // Pages near a few bases: small pfns, just below and above 2^31, and the table's top.
  const bases = [0, 2 ** 31 - 700, 2 ** 31 + 3 * 2 ** (g + bits), pool.limitPfn - 2 ** (g + 2 * bits + 1)].map((b) => Math.floor(b / 2 ** g) * 2 ** g);
  const pfnNear = () => bases[rng.int(bases.length)] + rng.int(3 * 2 ** (g + bits)) * 2 ** 0;
  for (let step = 0; step < 250; step++) {
    const root = roots[rng.int(roots.length)];
    const r = rng.float();
    if (r < 0.5) {
      const order = orders[rng.int(orders.length)];
      const base = Math.floor(pfnNear() / 2 ** order) * 2 ** order;
      if (base + 2 ** order <= pool.limitPfn && !pool.anyLeafIn(root, base, base + 2 ** order)) pool.install(root, base, order, base);
    } else if (r < 0.7) {
      const start = pfnNear();
      const end = Math.min(pool.limitPfn, start + 1 + rng.int(rng.chance(0.3) ? 2 ** (g + 2 * bits) : 2 ** (g + bits)));
      pool.clear(root, start, end, SINK);
    }
    for (let q = 0; q < 20; q++) {
      const pfn = rng.chance(0.05) ? pool.limitPfn + rng.int(4) : pfnNear();
      const want = expected(pool, root, pfn);
      const got = pool.level1Entry(root, pfn);
      if (got !== want) expect({ seed, step, pfn, got }).toEqual({ seed, step, pfn, got: want });
    }
  }
}

describe('level1Entry is lookup at level 1', () => {
  it.each([
    ['x86, 4 levels', x86Format(4)],
    ['x86, 5 levels', x86Format(5)],
    ['LPAE 4K', lpaeFormat(12)],
    ['LPAE 64K', lpaeFormat(16)],
  ] as const)('%s: 40 seeded traces of installs and clears', (_, format) => {
    for (let seed = 1; seed <= 40; seed++) check(seed, format);
  });

  it('records the level-1 table in the walk memo, and does not use a memo left by freed tables', () => {
    const pool = new PageTablePool(x86Format(4));
    const root = pool.newRoot();
    pool.install(root, 1000, 0, 5);
    const k = pool.level1Entry(root, 1001); // walks, records
    expect(k).toBe(pool.level1Entry(root, 1001)); // from the memo
    expect(pool.ptr[k]).toBe(0);
    pool.clear(root, 0, 2 ** 27, SINK); // frees the tables under root
    expect(pool.level1Entry(root, 1001)).toBe(-1);
    pool.install(root, 1000, 0, 5);
    expect(pool.level1Entry(root, 1000)).toBe(expected(pool, root, 1000));
  });
});
