// The one-page removal (SetAssocTable.removePage and IndexedTable's, which
// the invalidation's one-page syncs take) against removeRange of that page,
// the reference; the inlined markUnmapped against markUnmappedIn over
// findExact; removeUnmappedPage against markUnmappedIn and removeRange; and
// removeUnmappedRange against markUnmappedIn of each page and removeRange.
// Seeded random operations on two tables in lockstep, one taking
// the fast way and one the reference: every return value, and the whole
// state of the tables after each step (entries, live orders, stale windows,
// resets), must be the same.
import { describe, expect, it } from 'vitest';
import type { PolicyName, TableGeometry } from '../../src/config/config.js';
import { markUnmappedIn } from '../../src/caches/iotlb.js';
import { Replacement } from '../../src/caches/replacement.js';
import { IndexedTable, SetAssocTable } from '../../src/caches/table.js';
import { Rng } from '../../src/workloads/rng.js';

/** Everything a table holds that a removal or a mark may change. */
function stateOf(t: SetAssocTable): unknown {
  return {
    state: Array.from(t.state),
    tag: Array.from(t.tag),
    base: Array.from(t.base),
    order: Array.from(t.order),
    phys: Array.from(t.phys),
    owner: Array.from(t.owner),
    unmappedAt: Array.from(t.unmappedAt),
    orderLive: Array.from(t.orderLive),
    orderSeen: Array.from(t.orderSeen),
    window: [t.windowMaxNs, t.windowSumNs, t.windowCount],
    resets: t.resets,
    missWasInvalidated: t.missWasInvalidated,
  };
}

const ORDER_SETS = [[0], [0, 9], [9, 0], [0, 9, 18], [18, 0, 9], [0, 4, 9, 18]];

function make(indexed: boolean, g: TableGeometry, seed: number): SetAssocTable {
  return indexed ? new IndexedTable(g, seed, undefined, 'test') : new SetAssocTable(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, seed));
}

/**
 * `ops` random lookups, fills (now and then of a key already held), one-page
 * removals, marks, range and tag removals and window drains on `fast` and
 * `ref`; only one-page removals and marks differ between the two.
 */
function lockstep(seed: number, indexed: boolean, ops: number): void {
  const rng = new Rng(seed);
  const policies: PolicyName[] = ['lru', 'fifo', 'plru', 'random', 'flush-when-full'];
  const sets = indexed ? [1, 2][rng.int(2)] : [1, 2, 4, 16][rng.int(4)];
  const ways = indexed ? [65, 80][rng.int(2)] : [1, 2, 4, 8][rng.int(4)];
  const g: TableGeometry = { entries: sets * ways, sets, ways, policy: policies[rng.int(policies.length)] };
  const fast = make(indexed, g, seed);
  const ref = make(indexed, g, seed);
  // Orders in the order a trace first fills them (seenOrders' order is the removals' order).
  const orders = ORDER_SETS[rng.int(ORDER_SETS.length)];
  const lookupOrders = Int8Array.from([...orders].sort((a, b) => b - a));
  const span = 2 * sets * ways + (rng.chance(0.3) ? 2 ** 20 : 0);
  let now = 0;
  for (let k = 0; k < ops; k++) {
    now += rng.int(7);
    const tag = rng.int(3);
    const pfn = rng.int(span) + (rng.chance(0.05) ? 2 ** 33 : 0); // a few above 2^32 pfns (pageNumber's other path)
    const r = rng.float();
    const at = `seed ${seed} op ${k}`;
    if (r < 0.45) {
      const hit = ref.lookup(tag, pfn, lookupOrders);
      expect(fast.lookup(tag, pfn, lookupOrders), at).toBe(hit);
      if (hit < 0 || rng.chance(0.05)) {
        const order = orders[rng.int(orders.length)];
        const base = Math.floor(pfn / 2 ** order) * 2 ** order;
        expect(fast.fill(tag, base, order, pfn, tag), at).toBe(ref.fill(tag, base, order, pfn, tag));
      }
    } else if (r < 0.62) {
      expect(fast.removePage(tag, pfn, now), at).toBe(ref.removeRange(tag, pfn, pfn + 1, now));
    } else if (r < 0.75) {
      // A strict unmap's one-page sync: the mark and the removal in one search.
      markUnmappedIn(ref, tag, pfn, 0, now);
      expect(fast.removeUnmappedPage(tag, pfn, now), at).toBe(ref.removeRange(tag, pfn, pfn + 1, now));
    } else if (r < 0.84) {
      // A strict unmap's sync of a few pages: the marks of [from, to) and the removal of its cover [start, end), in
      // the removal's search; the cover a probe or a scan, as removeRange decides.
      const from = pfn;
      const to = from + 1 + rng.int(16);
      const start = Math.max(0, from - rng.int(rng.chance(0.5) ? 1 : 8));
      const end = to + rng.int(rng.chance(0.8) ? 4 : span);
      for (let p = from; p < to; p++) markUnmappedIn(ref, tag, p, 0, now);
      expect(fast.removeUnmappedRange(tag, start, end, from, to, now), at).toBe(ref.removeRange(tag, start, end, now));
    } else if (r < 0.9) {
      const order = orders[rng.int(orders.length)];
      const base = Math.floor(pfn / 2 ** order) * 2 ** order;
      fast.markUnmapped(tag, base, order, now);
      markUnmappedIn(ref, tag, base, order, now);
    } else if (r < 0.95) {
      const end = pfn + 1 + rng.int(rng.chance(0.5) ? 4 : span);
      expect(fast.removeRange(tag, pfn, end, now), at).toBe(ref.removeRange(tag, pfn, end, now));
    } else if (r < 0.97) {
      expect(fast.removeTags(tag, null, now), at).toBe(ref.removeTags(tag, null, now));
    } else {
      fast.takeWindow();
      ref.takeWindow();
    }
    expect(stateOf(fast), at).toEqual(stateOf(ref));
  }
}

describe('removePage is removeRange of one page', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('plain tables, seeds %i + 8k up to 160: the same removals, counts and state', (first) => {
    for (let seed = first; seed <= 160; seed += 8) lockstep(seed, false, 300);
  });

  it.each([1, 2, 3, 4])('indexed tables, seeds 1000 + %i + 4k up to 1040: the same removals, counts and state', (first) => {
    for (let seed = first; seed <= 40; seed += 4) lockstep(1000 + seed, true, 300);
  });

  it('probes each live order once, and scans when those probes are as many as the sets', () => {
    // Two sets, three live orders: three probes >= two sets, so removeRange scans (index order) and so must removePage.
    const t = new SetAssocTable(2, 4, new Replacement('lru', 2, 4, 0));
    t.fill(1, 512, 9, 0, 0);
    t.fill(1, 0, 18, 0, 0);
    t.fill(1, 513, 0, 0, 0);
    t.markUnmapped(1, 0, 18, 10);
    t.markUnmapped(1, 513, 0, 20);
    expect(t.removePage(1, 513, 30)).toBe(3);
    expect([t.windowMaxNs, t.windowSumNs, t.windowCount]).toEqual([20, 30, 2]);
    expect(t.removePage(1, 513, 40)).toBe(0);
  });
});
