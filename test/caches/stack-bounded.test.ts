// The bounded stack profiler (caches/stack.ts: only the top N marks kept, the
// oldest leaving as a new one comes) against the unbounded one, the plain
// reference (marks deeper than N kept until the time axis is renumbered).
// What a curve reads of the profiler must agree in lockstep: every lookup's
// hit or miss and the entry hit, every size's gains by depth, the size groups
// split off at stale hits and those marked approximate. Seeded random
// lookups, fills, remaps (stale entries), one-page, range and tag removals,
// two domains sharing a tag, over more pages than the largest size.
import { describe, expect, it } from 'vitest';
import { CurveGroup, StackIotlb, type LeafLookup } from '../../src/caches/stack.js';
import { alignDown } from '../../src/caches/indexing.js';
import { Rng } from '../../src/workloads/rng.js';

/** A page table of (order, base) -> phys, probed largest order first, as PageTablePool.lookup finds a leaf. */
class FakeTables implements LeafLookup {
  readonly leaves = new Map<string, number>();
  foundBase = 0;
  foundPhys = 0;
  constructor(private readonly ordersDesc: Int8Array) {}
  lookup(_root: number, pfn: number): number {
    for (const o of this.ordersDesc) {
      const base = alignDown(pfn, o);
      const phys = this.leaves.get(`${o}:${base}`);
      if (phys !== undefined) {
        this.foundBase = base;
        this.foundPhys = phys;
        return o;
      }
    }
    return -1;
  }
  walkAccesses(order: number): number {
    return 4 - order / 9;
  }
}

const ORDER_SETS = [[0], [9, 0], [18, 9, 0]];

function lockstep(seed: number, ops: number): void {
  const rng = new Rng(seed);
  const n = [1, 3, 8, 64, 700][rng.int(5)];
  const lo = 1 + rng.int(n);
  const orders = Int8Array.from(ORDER_SETS[rng.int(ORDER_SETS.length)]);
  const tables = new FakeTables(orders);
  // A small budget of groups now and then: sizes past it are marked approximate.
  const groups = rng.chance(0.5) ? Infinity : rng.int(4);
  const fastGroup = new CurveGroup(lo, n, { remaining: groups });
  const refGroup = new CurveGroup(lo, n, { remaining: groups });
  const fast = new StackIotlb(fastGroup, tables, n);
  const ref = new StackIotlb(refGroup, tables, n, null, false);
  const pages = 2 * n + rng.int(4 * n);
  const high = rng.chance(0.5) ? 2 ** 33 : 0;
  const mapOf = (pfn: number) => {
    const o = orders[rng.int(orders.length)];
    tables.leaves.set(`${o}:${alignDown(pfn, o)}`, rng.int(4));
  };
  for (let p = 0; p < pages; p += 1 + rng.int(3)) mapOf(high + p);
  let now = 0;
  for (let k = 0; k < ops; k++) {
    now += rng.int(5);
    const domain = rng.chance(0.9) ? 0 : 1;
    fast.bind(domain, 0);
    ref.bind(domain, 0);
    const tag = rng.int(3);
    const pfn = high + (rng.chance(0.5) ? rng.int(Math.max(2, n >> 1)) : rng.int(pages));
    const r = rng.int(100);
    if (r < 85) {
      const f = fast.lookup(tag, pfn, orders);
      const g = ref.lookup(tag, pfn, orders);
      expect(f >= 0, `step ${k}: hit or miss`).toBe(g >= 0);
      if (f >= 0) {
        expect([fast.base[f], fast.order[f], fast.phys[f]], `step ${k}: the entry hit`).toEqual([ref.base[g], ref.order[g], ref.phys[g]]);
        continue;
      }
      const order = tables.lookup(0, pfn);
      if (order < 0) continue; // a fault: nothing filled
      fast.fill(tag, tables.foundBase, order, tables.foundPhys, domain);
      ref.fill(tag, tables.foundBase, order, tables.foundPhys, domain);
    } else if (r < 92) {
      // A remap or an unmap: the IOTLB's entries of the leaf are marked (leafRemoved), as the model does.
      const o = orders[rng.int(orders.length)];
      const base = alignDown(pfn, o);
      tables.leaves.delete(`${o}:${base}`);
      if (rng.chance(0.6)) mapOf(pfn);
      for (let t = 0; t < 3; t++) {
        fast.markUnmapped(t, base, o, now);
        ref.markUnmapped(t, base, o, now);
      }
    } else if (r < 96) {
      fast.removePage(tag, pfn, now);
      ref.removePage(tag, pfn, now);
    } else if (r < 99) {
      const len = 1 + rng.int(64);
      fast.removeRange(tag, pfn, pfn + len, now);
      ref.removeRange(tag, pfn, pfn + len, now);
    } else {
      fast.removeTags(tag, null, now);
      ref.removeTags(tag, null, now);
    }
    expect(fast.held, `step ${k}: entries held`).toBeLessThanOrEqual(n);
  }
  for (let d = 1; d <= n + 1; d++) expect([d, fastGroup.hitsAt(d), fastGroup.accessesAt(d)]).toEqual([d, refGroup.hitsAt(d), refGroup.accessesAt(d)]);
  expect([fastGroup.lo, fastGroup.spawned, fastGroup.approximate]).toEqual([refGroup.lo, refGroup.spawned, refGroup.approximate]);
  // The bounded profiler holds no more than the largest size, and room for one entry more.
  expect(fast.bytes).toBeLessThanOrEqual(StackIotlb.bytesAt(Math.max(64, 4 * n), n + 1));
}

describe('the bounded stack profiler gives a curve what the unbounded one gives', () => {
  for (let seed = 1; seed <= 30; seed++) it(`seed ${seed}`, () => lockstep(seed, 8000));
});
