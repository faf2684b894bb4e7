// The stack profiler's key index (caches/stack.ts: its hash of (tag, base,
// order), the fill that takes the slot its lookup's probe ended at, the
// renumbering that drops deep entries and rebuilds the index) against a
// fully associative LRU table of the same size, the reference. At size N the
// profiler is that table (a hit within depth N, an invalidated entry's slot
// taken by the next fill), so seeded random lookups, fills and removals on
// both, in lockstep, must hit and miss alike and find the same entries: keys
// of several tags and page sizes, page numbers past 2^32 and near 2^52, and
// a stride that leaves a key's low bits alone.
import { describe, expect, it } from 'vitest';
import { Replacement } from '../../src/caches/replacement.js';
import { CurveGroup, StackIotlb, type LeafLookup } from '../../src/caches/stack.js';
import { SetAssocTable, VALID } from '../../src/caches/table.js';
import { alignDown } from '../../src/caches/indexing.js';
import { Rng } from '../../src/workloads/rng.js';

/** Never read: every entry is filled by its owner and never marked unmapped, so no hit is checked for staleness. */
const NO_TABLES: LeafLookup = { lookup: () => -1, foundBase: 0, foundPhys: 0, walkAccesses: () => 0 };

const ORDER_SETS = [[0], [9, 0], [18, 9, 0]];

function lockstep(seed: number, ops: number): void {
  const rng = new Rng(seed);
  // 700 entries: past the profiler's first time axis (1024 marks), so it grows.
  const n = [1, 3, 8, 64, 700][rng.int(5)];
  const stack = new StackIotlb(new CurveGroup(n, n), NO_TABLES, n);
  stack.bind(0, 0);
  const ref = new SetAssocTable(1, n, new Replacement('lru', 1, n, seed));
  const orders = Int8Array.from(ORDER_SETS[rng.int(ORDER_SETS.length)]);
  const tags = [0, 1, 2, 1 << 20];
  const pages = 2 * n + rng.int(3 * n);
  // Where the pages lie: low, past 2^32, near 2^52, or 2^20 apart (only high bits differ).
  const layout = rng.int(4);
  const pfnOf = (i: number) => (layout === 0 ? i : layout === 1 ? 2 ** 33 + i : layout === 2 ? 2 ** 52 - 2 ** 30 + i : i * 2 ** 20);
  let now = 0;
  for (let k = 0; k < ops; k++) {
    now += rng.int(5);
    const tag = tags[rng.int(tags.length)];
    const pfn = pfnOf(rng.int(pages));
    const r = rng.int(100);
    if (r < 90) {
      const s = stack.lookup(tag, pfn, orders);
      const t = ref.lookup(tag, pfn, orders);
      expect(s >= 0, `step ${k}: hit or miss`).toBe(t >= 0);
      if (s >= 0) {
        expect([stack.base[s], stack.order[s]]).toEqual([ref.base[t], ref.order[t]]);
        continue;
      }
      const order = orders[rng.int(orders.length)];
      const base = alignDown(pfn, order);
      stack.fill(tag, base, order, base, 0);
      ref.fill(tag, base, order, base, 0);
    } else if (r < 95) {
      stack.removePage(tag, pfn, now);
      ref.removePage(tag, pfn, now);
    } else if (r < 99) {
      const len = 1 + rng.int(layout === 3 ? 2 ** 22 : 64);
      stack.removeRange(tag, pfn, pfn + len, now);
      ref.removeRange(tag, pfn, pfn + len, now);
    } else {
      stack.removeTags(tag, null, now);
      ref.removeTags(tag, null, now);
    }
    // Every key the reference holds, the profiler finds (its index holds deeper ones too).
    if (k % 997 === 0)
      for (let w = 0; w < n; w++)
        if (ref.state[w] === VALID) expect(stack.findExact(ref.tag[w], ref.base[w], ref.order[w]), `step ${k}: way ${w}`).toBeGreaterThanOrEqual(0);
  }
}

describe('the stack profiler at size N hits and misses as a fully associative LRU table of N entries (its key index)', () => {
  for (let seed = 1; seed <= 24; seed++) it(`seed ${seed}`, () => lockstep(seed, 6000));
});

/**
 * The profiler's one-page removal against its range removal of that page,
 * the reference: two profilers of sizes 1..N in lockstep, one removing a page
 * by removePage and one by removeRange; every return value, every size's
 * counts (the group's gains by depth) and the stale windows must agree.
 */
function onePageLockstep(seed: number, ops: number): void {
  const rng = new Rng(seed);
  const n = [4, 64, 700][rng.int(3)];
  const fast = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n);
  const ref = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n);
  fast.bind(0, 0);
  ref.bind(0, 0);
  const orders = Int8Array.from(ORDER_SETS[rng.int(ORDER_SETS.length)]);
  const pages = 2 * n + rng.int(3 * n);
  const high = rng.chance(0.5) ? 2 ** 33 : 0;
  let now = 0;
  for (let k = 0; k < ops; k++) {
    now += rng.int(5);
    const tag = rng.int(3);
    const pfn = high + rng.int(pages);
    if (rng.int(100) < 85) {
      const f = fast.lookup(tag, pfn, orders);
      expect(f, `step ${k}: lookup`).toBe(ref.lookup(tag, pfn, orders));
      if (f < 0) {
        const order = orders[rng.int(orders.length)];
        const base = alignDown(pfn, order);
        expect(fast.fill(tag, base, order, base, 0)).toBe(ref.fill(tag, base, order, base, 0));
      }
    } else {
      // Now and then a page whose leaf was unmapped first: its removal counts a stale window.
      if (rng.chance(0.5)) {
        const order = orders[rng.int(orders.length)];
        fast.markUnmapped(tag, alignDown(pfn, order), order, now);
        ref.markUnmapped(tag, alignDown(pfn, order), order, now);
      }
      expect(fast.removePage(tag, pfn, now), `step ${k}: removePage`).toBe(ref.removeRange(tag, pfn, pfn + 1, now));
    }
  }
  for (let d = 1; d <= n + 1; d++) expect([fast.group.hitsAt(d), fast.group.accessesAt(d)]).toEqual([ref.group.hitsAt(d), ref.group.accessesAt(d)]);
  expect([fast.windowMaxNs, fast.windowSumNs, fast.windowCount]).toEqual([ref.windowMaxNs, ref.windowSumNs, ref.windowCount]);
}

describe("the stack profiler's one-page removal equals its range removal of that page", () => {
  for (let seed = 1; seed <= 12; seed++) it(`seed ${seed}`, () => onePageLockstep(seed, 6000));
});
