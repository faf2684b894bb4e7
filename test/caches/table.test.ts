import { describe, expect, it } from 'vitest';
import { Replacement } from '../../src/caches/replacement.js';
import { SetAssocTable } from '../../src/caches/table.js';
import { pageNumber, setOf } from '../../src/caches/indexing.js';
import { Rng } from '../../src/workloads/rng.js';
import { Tlb } from '../model/reference.js';
import { replayEvents } from '../helpers/replay.js';
import type { Ev } from '../helpers/events.js';

const O4K = Int8Array.from([0]);

/** Fills pages (one set: sets = 1) and returns the table. */
function tableWith(policy: Replacement, ways: number): SetAssocTable {
  return new SetAssocTable(1, ways, policy);
}

describe('replacement policies on a 4-way set', () => {
  // Fill A, B, C, D (ways 0..3), hit A, then the victim for E.
  function victimAfterHitA(policy: Replacement): number {
    const t = tableWith(policy, 4);
    for (const page of [0, 1, 2, 3]) t.fill(7, page, 0, page, 0);
    expect(t.lookup(7, 0, O4K)).toBe(0);
    return policy.victim(0);
  }

  it('lru evicts the least recently filled or hit: B', () => {
    expect(victimAfterHitA(new Replacement('lru', 1, 4, 0))).toBe(1);
  });

  it('fifo evicts the first filled, hits do not count: A', () => {
    expect(victimAfterHitA(new Replacement('fifo', 1, 4, 0))).toBe(0);
  });

  it('plru follows the tree bits: after fills A..D and a hit on A the victim is C', () => {
    expect(victimAfterHitA(new Replacement('plru', 1, 4, 0))).toBe(2);
    const p = new Replacement('plru', 1, 4, 0);
    for (const w of [0, 1, 2, 3]) p.onFill(0, w);
    expect(p.victim(0)).toBe(0); // after touching 0..3 in order, the tree points back at way 0
  });

  it('random is seeded: the same seed gives the same victims, in range', () => {
    const a = new Replacement('random', 1, 4, 9);
    const b = new Replacement('random', 1, 4, 9);
    const c = new Replacement('random', 1, 4, 10);
    const va = Array.from({ length: 32 }, () => a.victim(0));
    expect(va).toEqual(Array.from({ length: 32 }, () => b.victim(0)));
    expect(va.every((v) => v >= 0 && v < 4)).toBe(true);
    expect(va).not.toEqual(Array.from({ length: 32 }, () => c.victim(0)));
  });
});

describe('set-associative table hooks', () => {
  class Recording extends Replacement {
    log: string[] = [];
    constructor() {
      super('lru', 2, 2, 0);
    }
    override onHit(set: number, way: number) {
      this.log.push(`hit ${set}/${way}`);
    }
    override onFill(set: number, way: number) {
      this.log.push(`fill ${set}/${way}`);
    }
    override victim(set: number) {
      this.log.push(`victim ${set}`);
      return 1;
    }
  }

  it('fill uses the first invalid way without asking for a victim, a full set asks, a hit refreshes, a miss does nothing', () => {
    const p = new Recording();
    const t = new SetAssocTable(2, 2, p);
    t.fill(1, 0, 0, 0, 0); // set 0
    t.fill(1, 2, 0, 0, 0); // set 0
    t.fill(1, 4, 0, 0, 0); // set 0 full: victim
    expect(t.lookup(1, 4, O4K)).toBe(1);
    expect(t.lookup(1, 2, O4K)).toBe(-1); // evicted from way 1
    t.fill(1, 1, 0, 0, 0); // set 1
    expect(p.log).toEqual(['fill 0/0', 'fill 0/1', 'victim 0', 'fill 0/1', 'hit 0/1', 'fill 1/0']);
  });

  it('an invalidated way is reused before any victim, and a miss on it is reported', () => {
    const t = new SetAssocTable(1, 2, new Replacement('lru', 1, 2, 0));
    t.fill(5, 10, 0, 0, 0);
    t.fill(5, 11, 0, 0, 0);
    expect(t.removeRange(5, 10, 11, 0)).toBe(1);
    expect(t.lookup(5, 10, O4K)).toBe(-1);
    expect(t.missWasInvalidated).toBe(true);
    expect(t.fill(5, 12, 0, 0, 0)).toBe(0);
    expect(t.lookup(5, 11, O4K)).toBe(1);
  });

  it('indexes each page size by its own page number: set = (address / pageSize) mod sets', () => {
    expect(setOf(pageNumber(0x201, 9), 3)).toBe(1); // 2M page 1
    expect(setOf(pageNumber(0x201, 0), 3)).toBe(1); // 4K page 0x201
    expect(setOf(pageNumber(2 ** 40 + 5 * 2 ** 18, 18), 7)).toBe(5 + (2 ** 22 % 8));
  });
});

describe('table against a plain array-of-objects reference', () => {
  for (const policy of ['lru', 'fifo', 'plru', 'random', 'flush-when-full'] as const) {
    it(`random translation streams give identical hit/miss sequences (${policy})`, () => {
      for (let seed = 1; seed <= 30; seed++) {
        const rng = new Rng(seed);
        const sets = [1, 2, 4, 8][rng.int(4)];
        const ways = [1, 2, 4, 8][rng.int(4)];
        const orders = [Int8Array.from([0]), Int8Array.from([9, 0]), Int8Array.from([18, 9, 0])][rng.int(3)];
        const t = new SetAssocTable(sets, ways, new Replacement(policy, sets, ways, seed));
        const ref = new Tlb(sets, ways, policy, seed);
        const got: string[] = [];
        const want: string[] = [];
        for (let i = 0; i < 400; i++) {
          const tag = rng.int(3);
          const pfn = rng.int(4096) + (rng.chance(0.2) ? 2 ** 18 : 0);
          const order = orders[rng.int(orders.length)];
          const base = Math.floor(pfn / 2 ** order) * 2 ** order;
          if (rng.chance(0.05)) {
            t.removeTags(tag, null, 0);
            for (const e of ref.all()) if (e.state === 'valid' && e.tag === String(tag)) e.state = 'inval';
            continue;
          }
          const k = t.lookup(tag, pfn, orders);
          got.push(k >= 0 ? `hit ${t.base[k]}/${t.order[k]}` : `miss${t.missWasInvalidated ? '*' : ''}`);
          const [e, ghost] = ref.lookup(
            String(tag),
            BigInt(pfn) * 4096n,
            Array.from(orders, (o) => 4096n << BigInt(o)),
          );
          want.push(e ? `hit ${Number(e.base / 4096n)}/${Math.log2(Number(e.size / 4096n))}` : `miss${ghost ? '*' : ''}`);
          if (k < 0) {
            t.fill(tag, base, order, 0, 0);
            ref.fill(String(tag), { base: BigInt(base) * 4096n, size: 4096n << BigInt(order), pa: 0n }, 0);
          }
        }
        expect(got).toEqual(want);
      }
    });
  }
});

describe('geometries', () => {
  const ev: Ev[] = [
    { op: 'attach', device: 0x300, domain: 1 },
    { op: 'map', domain: 1, iova: 0, paddr: 0, size: 0x100000 },
  ];
  for (let i = 0; i < 3; i++) for (let p = 0; p < 256; p++) ev.push({ op: 'dma_read', device: 0x300, iova: p * 4096, size: 8 });

  it('fully associative ("ways": "full") is one set of all entries', () => {
    const s = replayEvents(ev, { iotlb: { entries: 256, ways: 'full' } });
    expect(s.config.iotlb).toEqual({ entries: 256, sets: 1, ways: 256, policy: 'lru' });
    expect(s.totals.iotlb).toMatchObject({ lookups: 768, hits: 512 });
  });

  it('direct-mapped (1 way) thrashes on conflicting pages', () => {
    const s = replayEvents(ev, { iotlb: { sets: 128, ways: 1 } });
    expect(s.totals.iotlb).toMatchObject({ lookups: 768, hits: 0 });
    const fits = replayEvents(ev, { iotlb: { sets: 256, ways: 1 } });
    expect(fits.totals.iotlb.hits).toBe(512);
  });
});

describe('paging-structure (walk) caches', () => {
  const base: Ev[] = [
    { op: 'attach', device: 0x300, domain: 1 },
    { op: 'map', domain: 1, iova: 0, paddr: 0, size: 0x10000 },
  ];
  const touches: Ev[] = [0, 1, 2, 3].map((p) => ({ op: 'dma_read', device: 0x300, iova: p * 4096, size: 8 }));

  it('are off by default: every 4K walk reads 4 levels', () => {
    const s = replayEvents([...base, ...touches]);
    expect(s.totals.walks).toEqual({ count: 4, memoryAccesses: 16, walkCacheHits: 0 });
    expect(s.config.walkCache).toBeUndefined();
  });

  it('cut a walk to the levels below the deepest cached pointer', () => {
    const s = replayEvents([...base, ...touches], { walkCache: { entries: 16, ways: 4 } });
    // First walk: 4 reads, then the level-2 pointer for the 2M region is cached: 1 read each.
    expect(s.totals.walks).toEqual({ count: 4, memoryAccesses: 4 + 3, walkCacheHits: 3 });
    expect(s.config.walkCache).toEqual({ entries: 16, sets: 4, ways: 4, policy: 'lru' });
  });

  it('a page in another 2M region of the same 1G region reuses the level-3 pointer', () => {
    const s = replayEvents(
      [...base, { op: 'map', domain: 1, iova: 0x200000, paddr: 0, size: 4096 }, touches[0], { op: 'dma_read', device: 0x300, iova: 0x200000, size: 8 }],
      { walkCache: { entries: 16, ways: 4 } },
    );
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 4 + 2, walkCacheHits: 1 });
  });

  it('are invalidated with the IOTLB: after a domain-selective teardown the walk is full again', () => {
    const s = replayEvents([...base, touches[0], { op: 'detach', device: 0x300 }, { op: 'attach', device: 0x300, domain: 1 }, touches[1]], {
      walkCache: { entries: 16, ways: 4 },
    });
    expect(s.totals.walks).toMatchObject({ count: 2, memoryAccesses: 8, walkCacheHits: 0 });
  });
});

describe('removal fast path', () => {
  it('probing the sets of a small range removes exactly what a full scan removes', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new Rng(seed);
      const sets = [1, 4, 16, 64][rng.int(4)];
      const ways = [1, 2, 4][rng.int(3)];
      const a = new SetAssocTable(sets, ways, new Replacement('lru', sets, ways, 1));
      const b = new SetAssocTable(sets, ways, new Replacement('lru', sets, ways, 1));
      for (let i = 0; i < 3 * sets * ways; i++) {
        const order = [0, 4, 9, 18][rng.int(4)];
        const base = Math.floor((rng.int(1 << 20) + (rng.chance(0.1) ? 2 ** 34 : 0)) / 2 ** order) * 2 ** order;
        const tag = rng.int(2);
        a.fill(tag, base, order, 0, 0);
        b.fill(tag, base, order, 0, 0);
      }
      for (let k = 0; k < 20; k++) {
        const start = rng.int(1 << 20);
        const end = start + 1 + rng.int(rng.chance(0.5) ? 8 : 4096);
        const tag = rng.int(2);
        expect(a.removeRange(tag, start, end, 0)).toBe(b.scanRemoveRange(tag, start, end, 0));
      }
      expect(Array.from(a.state)).toEqual(Array.from(b.state));
    }
  });
});

describe('lru over 4 ways keeps a recency order, not stamps', () => {
  // The plain rule: each way's last touch (hit or fill) by a clock; the victim is the oldest.
  function stampVictims(ops: [number, number][]): number[] {
    const sets = 4;
    const last = new Float64Array(sets * 4);
    let clock = 0;
    const out: number[] = [];
    for (const [set, way] of ops) {
      if (way < 0) {
        let best = 0;
        for (let w = 1; w < 4; w++) if (last[set * 4 + w] < last[set * 4 + best]) best = w;
        out.push(best);
        last[set * 4 + best] = ++clock; // the victim is filled
      } else last[set * 4 + way] = ++clock;
    }
    return out;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: the same victims as last-touch stamps over 2000 random hits and fills', (seed) => {
    const rng = new Rng(seed);
    // Every way touched once first, as fills of a set's invalid ways do before any victim is asked for.
    const ops: [number, number][] = [];
    for (let set = 0; set < 4; set++) for (let w = 0; w < 4; w++) ops.push([set, w]);
    for (let i = 0; i < 2000; i++) ops.push([rng.int(4), rng.chance(0.4) ? -1 : rng.int(4)]);
    const p = new Replacement('lru', 4, 4, 0);
    expect(p.order4.length).toBe(4);
    const got: number[] = [];
    for (const [set, way] of ops) {
      if (way < 0) {
        const v = p.victim(set);
        got.push(v);
        p.onFill(set, v);
      } else if (rng.chance(0.5)) p.onHit(set, way);
      else p.onFill(set, way);
    }
    expect(got).toEqual(stampVictims(ops));
  });
});
