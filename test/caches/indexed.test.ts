// IndexedTable (caches/table.ts) against the plain SetAssocTable it stands for
// past INDEXED_MIN_WAYS ways: seeded random operations on both, in lockstep,
// must give the same hits, the same victims (the index each fill returns),
// the same ghosts, removals and stale windows, and the same entries at the end.
import { describe, expect, it } from 'vitest';
import type { PolicyName, TableGeometry } from '../../src/config/config.js';
import { FreeBits } from '../../src/caches/freebits.js';
import { Replacement } from '../../src/caches/replacement.js';
import { EMPTY, IndexedTable, SetAssocTable, isIndexed, tableOf } from '../../src/caches/table.js';
import { MemoryBudget } from '../../src/config/limits.js';
import { Rng } from '../../src/workloads/rng.js';
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { consumeInTwo, metaOf } from '../helpers/replay.js';
import { randomCase } from '../helpers/random-case.js';

const ORDER_SETS = [Int8Array.from([0]), Int8Array.from([9, 0]), Int8Array.from([18, 9, 0])];

function compareEntries(plain: SetAssocTable, indexed: SetAssocTable): void {
  const n = plain.state.length;
  for (let i = 0; i < n; i++) {
    if (i >= indexed.state.length) {
      expect(plain.state[i], `entry ${i} past the held ways`).toBe(EMPTY);
      continue;
    }
    expect(indexed.state[i], `state ${i}`).toBe(plain.state[i]);
    if (plain.state[i] === EMPTY) continue;
    expect([indexed.tag[i], indexed.base[i], indexed.order[i], indexed.phys[i], indexed.owner[i], indexed.unmappedAt[i]], `entry ${i}`).toEqual([
      plain.tag[i],
      plain.base[i],
      plain.order[i],
      plain.phys[i],
      plain.owner[i],
      plain.unmappedAt[i],
    ]);
  }
  expect(Array.from(indexed.orderLive)).toEqual(Array.from(plain.orderLive));
  expect([indexed.windowMaxNs, indexed.windowSumNs, indexed.windowCount, indexed.resets]).toEqual([
    plain.windowMaxNs,
    plain.windowSumNs,
    plain.windowCount,
    plain.resets,
  ]);
}

function lockstep(g: TableGeometry, seed: number, ops: number): void {
  const rng = new Rng(seed);
  const plain = new SetAssocTable(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, seed));
  const indexed = new IndexedTable(g, seed, undefined, 'test');
  const orders = ORDER_SETS[seed % ORDER_SETS.length];
  // Pages over about twice the table: hits, misses and evictions all happen.
  const span = Math.max(4, Math.floor((g.entries * 2) / 1));
  const groups = Int32Array.from({ length: 8 }, (_, t) => t >> 1);
  let now = 0;
  for (let k = 0; k < ops; k++) {
    now += 1 + rng.int(5);
    const tag = rng.int(4);
    const r = rng.float();
    if (r < 0.7) {
      const pfn = rng.int(span);
      const hit = plain.lookup(tag, pfn, orders);
      expect(indexed.lookup(tag, pfn, orders), `lookup ${k}`).toBe(hit);
      expect(indexed.missWasInvalidated, `ghost ${k}`).toBe(plain.missWasInvalidated);
      if (hit < 0 || rng.float() < 0.05) {
        // A miss fills (now and then a hit fills again: a duplicate key).
        const order = orders[rng.int(orders.length)];
        const base = Math.floor(pfn / 2 ** order) * 2 ** order;
        const phys = rng.int(1 << 20);
        expect(indexed.fill(tag, base, order, phys, tag), `fill ${k}`).toBe(plain.fill(tag, base, order, phys, tag));
      }
    } else if (r < 0.85) {
      const start = rng.int(span);
      const end = start + 1 + (rng.float() < 0.8 ? rng.int(4) : rng.int(span));
      expect(indexed.removeRange(tag, start, end, now), `removeRange ${k}`).toBe(plain.removeRange(tag, start, end, now));
    } else if (r < 0.9) {
      const grouped = rng.float() < 0.5 ? groups : null;
      expect(indexed.removeTags(tag, grouped, now), `removeTags ${k}`).toBe(plain.removeTags(tag, grouped, now));
    } else if (r < 0.97) {
      const order = orders[rng.int(orders.length)];
      const base = Math.floor(rng.int(span) / 2 ** order) * 2 ** order;
      expect(indexed.findExact(tag, base, order)).toBe(plain.findExact(tag, base, order));
      plain.markUnmapped(tag, base, order, now);
      indexed.markUnmapped(tag, base, order, now);
    } else {
      plain.takeWindow();
      indexed.takeWindow();
    }
  }
  compareEntries(plain, indexed);
}

const POLICIES: PolicyName[] = ['lru', 'fifo', 'plru', 'random', 'flush-when-full'];

describe('IndexedTable gives the hits and victims of the linear scan', () => {
  for (const policy of POLICIES) {
    it(`${policy}: one set (fully associative), sets of many ways`, () => {
      for (let seed = 1; seed <= 12; seed++) {
        const ways = policy === 'plru' ? [128, 256][seed % 2] : 65 + ((seed * 37) % 200);
        lockstep({ sets: 1, ways, entries: ways, policy }, seed, 4000);
        const sets = [2, 4][seed % 2];
        const w = policy === 'plru' ? 128 : 65 + seed;
        lockstep({ sets, ways: w, entries: sets * w, policy }, 100 + seed, 4000);
      }
    });
  }

  it('tables past 64 ways are indexed, decided from the geometry', () => {
    expect(isIndexed({ ways: 64 })).toBe(false);
    expect(isIndexed({ ways: 65 })).toBe(true);
    expect(tableOf({ sets: 1, ways: 65, entries: 65, policy: 'lru' }, 1)).toBeInstanceOf(IndexedTable);
    expect(tableOf({ sets: 16, ways: 4, entries: 64, policy: 'lru' }, 1)).not.toBeInstanceOf(IndexedTable);
  });

  it('a 2^24-way table holds what it filled, and charges its growth to the budget', () => {
    const budget = new MemoryBudget(2 ** 30);
    const t = tableOf({ sets: 1, ways: 2 ** 24, entries: 2 ** 24, policy: 'lru' }, 1, budget, 'the IOTLB of iommu0');
    const first = budget.used;
    expect(first).toBeLessThan(2 ** 20);
    for (let p = 0; p < 5000; p++) t.fill(1, p, 0, p, 0);
    expect(t.state.length).toBeLessThan(16384);
    expect(budget.used).toBeGreaterThan(first);
    expect(t.lookup(1, 4321, ORDER_SETS[0])).toBe(4321);
    const small = new MemoryBudget(first + 1000);
    const u = tableOf({ sets: 1, ways: 2 ** 24, entries: 2 ** 24, policy: 'lru' }, 1, small, 'the IOTLB of iommu0');
    expect(() => {
      for (let p = 0; p < 5000; p++) u.fill(1, p, 0, p, 0);
    }).toThrow(/^Stopped before the first row: the IOTLB of iommu0 needs about .*, over the .* limit; raise it with --max-table-memory$/);
  });
});

describe('FreeBits', () => {
  it('next() is the smallest member at or after i, as a scan finds it', () => {
    const rng = new Rng(7);
    for (const n of [1, 31, 32, 33, 1000, 1024, 40000]) {
      const bits = new FreeBits(n);
      const naive = new Uint8Array(n).fill(1);
      for (let k = 0; k < 3000; k++) {
        const i = rng.int(n);
        if (rng.float() < 0.6) {
          bits.delete(i);
          naive[i] = 0;
        } else {
          bits.add(i);
          naive[i] = 1;
        }
        const from = rng.int(n + 2);
        let want = -1;
        for (let j = from; j < n; j++)
          if (naive[j] === 1) {
            want = j;
            break;
          }
        expect(bits.next(from), `n=${n} from=${from}`).toBe(want);
      }
    }
  });
});

describe('a replay with an indexed IOTLB gives the summary of one with the plain table', () => {
  it('seeded random traces, IOTLBs of 65 to 128 ways (plain: the generic loop; indexed: the specialized one)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { events, config, meta } = randomCase(seed);
      const rng = new Rng(seed * 31);
      const policy = (config.iotlb as { policy: PolicyName }).policy;
      const ways = policy === 'plru' ? 128 : 65 + rng.int(64);
      const cfg = resolveConfig({ ...config, iotlb: { sets: [1, 2][rng.int(2)], ways, policy } }, 'indexed');
      const indexed = new Replay(cfg, metaOf(meta));
      consumeInTwo(indexed, events);
      for (const t of indexed.iotlbs.filter((x) => x !== undefined)) expect(t).toBeInstanceOf(IndexedTable);
      const g = cfg.iotlb;
      const plain = new Replay(cfg, metaOf(meta), {}, (i) => new SetAssocTable(g.sets, g.ways, new Replacement(g.policy, g.sets, g.ways, cfg.seed * 1000 + i)));
      consumeInTwo(plain, events);
      const want = stableStringify(buildSummary(plain, ['t']));
      const got = stableStringify(buildSummary(indexed, ['t']));
      if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
    }
  });
});
