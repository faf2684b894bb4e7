// The stack profiler's memory follows the entries a trace fills, not the
// largest size asked for (issue 25: a 2^20-entry curve allocated for 2^20
// entries up front, times eight), and its growth changes no count: seeded
// traces over more pages than its first arrays hold, every sampled size
// against a replay of its own.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { MemoryBudget, MemoryLimitError } from '../../src/config/limits.js';
import { CurveGroup, StackIotlb, type LeafLookup } from '../../src/caches/stack.js';
import { lruStackCurve } from '../../src/run/curve.js';
import { Rng } from '../../src/workloads/rng.js';
import { countersOf, memFeed, replayAt } from '../helpers/curve.js';
import { K4, type Ev } from '../helpers/events.js';

const NO_TABLES: LeafLookup = { lookup: () => -1, foundBase: 0, foundPhys: 0, walkAccesses: () => 0 };

/** Pages mapped in runs of 4K (some 2M), DMA with a hot set and a long cold tail, remaps and lazy or strict unmaps. */
function manyPages(seed: number): { events: Ev[]; config: Record<string, unknown> } {
  const rng = new Rng(seed);
  const pages = 1500 + rng.int(1500);
  const base = 0x40000000;
  const events: Ev[] = [{ op: 'attach', device: 0x100, domain: 1 }];
  for (let p = 0; p < pages; p += 16) events.push({ op: 'map', device: 0x100, domain: 1, iova: base + p * K4, paddr: 0x900000000 + p * K4, size: 16 * K4 });
  events.push({ op: 'map', device: 0x100, domain: 1, iova: 0x80000000, paddr: 0x80000000, size: 0x400000 });
  for (let i = 0; i < 12000; i++) {
    const r = rng.int(100);
    if (r < 4) {
      const p = rng.int(pages);
      events.push({ op: 'unmap', device: 0x100, domain: 1, iova: base + p * K4, size: K4 });
      events.push({ op: 'map', device: 0x100, domain: 1, iova: base + p * K4, paddr: rng.chance(0.5) ? 0x900000000 + p * K4 : 0x700000000 + p * K4, size: K4 });
    } else if (r < 10) {
      events.push({ op: 'dma_read', device: 0x100, iova: 0x80000000 + rng.int(0x400000), size: 64 });
    } else {
      const p = rng.chance(0.5) ? rng.int(64) : rng.int(pages);
      events.push({ op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device: 0x100, iova: base + p * K4 + rng.int(K4 - 64), size: 64 });
    }
  }
  const config = { pageSizes: rng.chance(0.5) ? ['4K'] : ['4K', '2M'], invalidation: { mode: rng.chance(0.5) ? 'lazy' : 'strict', fqSize: 8 } };
  return { events, config };
}

describe('the stack profiler holds memory for the entries filled, not for the largest size', () => {
  it('a profiler of 2^20 and of 2^24 entries starts with well under a MiB', () => {
    for (const n of [1 << 20, 1 << 24]) {
      const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n);
      expect(s.bytes).toBeLessThan(1 << 20);
    }
  });

  it('it grows as entries are filled, up to a time axis of 4 x the largest size and room for one entry more', () => {
    const n = 4096;
    const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n);
    const start = s.bytes;
    for (let p = 0; p < 3 * n; p++) s.fill(0, p, 0, p, 0);
    expect(s.bytes).toBeGreaterThan(start);
    expect(s.bytes).toBeLessThanOrEqual(StackIotlb.bytesAt(4 * n, n + 1));
    // Every size still finds the n most recent pages and no other.
    const orders = Int8Array.of(0);
    expect(s.lookup(0, 3 * n - 1, orders)).toBeGreaterThanOrEqual(0);
    expect(s.lookup(0, 2 * n - 1, orders)).toBe(-1);
  });
});

describe('the stack profiler is charged to --max-table-memory', () => {
  it('its growth past the limit stops with the memory-limit line', () => {
    const n = 1 << 20;
    const budget = new MemoryBudget(1 << 20);
    const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n, budget);
    expect(budget.used).toBe(s.bytes);
    expect(() => {
      for (let p = 0; p < n; p++) s.fill(0, p, 0, p, 0);
    }).toThrow(MemoryLimitError);
    expect(() => {
      for (let p = 0; p < n; p++) s.fill(0, p, 0, p, 0);
    }).toThrow(
      /the stack profiler of the curve \(entries the trace filled\) needs about .* already in use\), over the 1 MiB limit; raise it with --max-table-memory$/,
    );
  });
});

describe('the stack profiler is charged its new arrays in full while it grows (the old ones are held while copied)', () => {
  it('is refused where its old and new arrays together would pass the limit, and holds only the new ones after', () => {
    const n = 1 << 20;
    const fillPages = (s: StackIotlb) => {
      for (let p = 0; p < 2000; p++) s.fill(0, p, 0, p, 0);
    };
    // Its first arrays are 1024 marks and 1024 entries long. The renumbering
    // at the 1025th fill keeps 1024 marks, more than a quarter of the axis:
    // 4096 marks; the fill then needs room for a 1025th entry: 2048.
    const first = StackIotlb.bytesAt(1024, 1024);
    const longer = StackIotlb.bytesAt(4096, 1024);
    const peak = Math.max(first + longer, longer + StackIotlb.bytesAt(4096, 2048));
    const room = new MemoryBudget(peak);
    const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n, room);
    fillPages(s);
    expect(s.bytes).toBe(StackIotlb.bytesAt(4096, 2048));
    expect(room.used).toBe(s.bytes);
    const tight = new MemoryBudget(peak - 1);
    const t = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n, tight);
    expect(() => fillPages(t)).toThrow(MemoryLimitError);
  });
});

describe('a curve over more entries than the first arrays hold equals replay at every sampled size', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}`, async () => {
      const { events, config } = manyPages(seed);
      const cfg = resolveConfig(config, 'property');
      const n = 2048;
      const curve = await lruStackCurve(memFeed(events), cfg, n);
      for (const size of [1, 2, 63, 64, 255, 256, 257, 1000, 1024, 1025, 2047, 2048]) {
        const want = replayAt(events, cfg, {}, 1, size);
        expect({ seed, size, ...countersOf(curve.points[size - 1]) }).toEqual({ seed, size, ...want });
      }
    }, 120_000);
  }
});

describe('a fill says whether it made a new entry (opt.ts keys the recorded stream by it)', () => {
  it('bounded (the curve): an entry within the largest size is refreshed, one deeper is new', () => {
    const n = 4;
    for (let m = 1; m < 300; m++) {
      const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n);
      s.fill(0, 0, 0, 0, 0);
      for (let p = 1; p <= m; p++) s.fill(0, p, 0, p, 0);
      // Page 0 is at depth m + 1: held by the largest size while m < n.
      expect(s.findExact(0, 0, 0) >= 0).toBe(m < n);
      s.fill(0, 0, 0, 0, 0);
      expect(s.filledNew).toBe(m >= n);
    }
  });

  it("unbounded (OPT's recorder): an entry held when fill starts but dropped by the renumbering that fill makes room with is a new entry", () => {
    const n = 4;
    // Page 0, then m other pages, then page 0 again: for some m the last fill
    // is the one that finds the time axis full and renumbers it, dropping page
    // 0 (far below the largest size) before filling it again.
    let heldThenNew = 0;
    for (let m = 1; m < 300; m++) {
      const s = new StackIotlb(new CurveGroup(1, n), NO_TABLES, n, null, false);
      s.fill(0, 0, 0, 0, 0);
      expect(s.filledNew).toBe(true);
      for (let p = 1; p <= m; p++) s.fill(0, p, 0, p, 0);
      const held = s.findExact(0, 0, 0) >= 0;
      s.fill(0, 0, 0, 0, 0);
      if (!held) expect(s.filledNew).toBe(true);
      if (held && s.filledNew) heldThenNew++;
      // A fill of an entry that stays held refreshes it.
      s.fill(0, 0, 0, 0, 0);
      expect(s.filledNew).toBe(false);
    }
    expect(heldThenNew).toBeGreaterThan(0);
  });
});
