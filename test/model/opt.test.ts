// Belady's OPT: the one-pass stack profile equals a brute-force OPT at every
// size, invalidations included, and is never below LRU on the same trace.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { lruStackCurve } from '../../src/run/curve.js';
import { optCurve, optProfile, recordReferences } from '../../src/run/opt.js';
import { Rng } from '../../src/workloads/rng.js';
import { memFeed } from '../helpers/curve.js';
import { K4, M2, type Ev } from '../helpers/events.js';
import { MemoryLimitError } from '../../src/config/limits.js';
import { randomCase, staleCase } from '../helpers/random-case.js';

/** OPT by definition: at a miss with a full table, evict the entry used again farthest ahead (never: first). */
function bruteOpt(stream: number[], size: number, cost: number[]): { hits: number; saved: number } {
  const nextUse = (key: number, from: number) => {
    for (let j = from; j < stream.length; j++) {
      if (stream[j] === key) return j;
      if (stream[j] === -1 - key) return Infinity; // invalidated before its next use
    }
    return Infinity;
  };
  const table = new Set<number>();
  let hits = 0;
  let saved = 0;
  stream.forEach((c, i) => {
    if (c < 0) {
      table.delete(-1 - c);
      return;
    }
    if (table.has(c)) {
      hits++;
      saved += cost[c];
      return;
    }
    if (table.size === size) {
      let victim = -1;
      let far = -1;
      for (const k of table) {
        const n = nextUse(k, i + 1);
        if (n > far) {
          far = n;
          victim = k;
        }
      }
      table.delete(victim);
    }
    table.add(c);
  });
  return { hits, saved };
}

function randomStream(seed: number): { stream: number[]; keys: number; cost: number[] } {
  const rng = new Rng(seed);
  const keys = 2 + rng.int(14);
  const cost = Array.from({ length: keys }, () => 2 + rng.int(3));
  const stream: number[] = [];
  const n = 20 + rng.int(200);
  for (let i = 0; i < n; i++) {
    const k = rng.chance(0.5) ? rng.int(Math.min(keys, 4)) : rng.int(keys);
    stream.push(rng.chance(0.1) ? -1 - k : k);
  }
  return { stream, keys, cost };
}

describe('OPT equals a brute-force OPT at every size', () => {
  for (let from = 1; from <= 200; from += 20) {
    it(`random reference streams with invalidations, seeds ${from}..${from + 19}`, () => {
      for (let seed = from; seed < from + 20; seed++) {
        const { stream, keys, cost } = randomStream(seed);
        const N = 12;
        const p = optProfile(Int32Array.from(stream), stream.length, keys, Float64Array.from(cost), N);
        let hits = 0;
        let saved = 0;
        for (let size = 1; size <= N; size++) {
          hits += p.hitsAt[size];
          saved += p.costAt[size];
          expect({ seed, size, hits, saved }).toEqual({ seed, size, ...bruteOpt(stream, size, cost) });
        }
      }
    });
  }
});

describe('OPT is never below LRU', () => {
  for (const [kind, make] of [
    ['random', randomCase],
    ['stale', staleCase],
  ] as const) {
    it(`${kind} traces: OPT hits >= LRU hits at every size where LRU took the largest size's path`, async () => {
      const N = 12;
      for (let seed = 1; seed <= 30; seed++) {
        const { events, config, meta } = make(seed);
        const cfg = resolveConfig(config, 'property');
        const lru = await lruStackCurve(memFeed(events, meta), cfg, N);
        const opt = await optCurve(memFeed(events, meta), cfg, N);
        for (let size = 1; size <= N; size++) {
          const l = lru.points[size - 1];
          const o = opt.points[size - 1];
          expect(o.lookups).toBe(lru.points[N - 1].lookups);
          // OPT runs on the largest size's reference stream; sizes whose path differed (a group split) compare on another stream.
          if (lru.groups === 1) expect({ seed, size, optAtLeastLru: o.hits >= l.hits }).toEqual({ seed, size, optAtLeastLru: true });
        }
        expect(opt.points[N - 1].hits).toBeGreaterThanOrEqual(lru.points[N - 1].hits);
      }
    });
  }
});

describe("--opt's recorded stream is charged to --max-table-memory", () => {
  /** 64 pages mapped, then `lookups` reads over them: the model stays small, the recorded stream grows 4 bytes a lookup. */
  function longTrace(lookups: number): Ev[] {
    const events: Ev[] = [{ op: 'attach', device: 0x100, domain: 1 }];
    events.push({ op: 'map', device: 0x100, domain: 1, iova: 0x40000000, paddr: 0x900000000, size: 64 * K4 });
    for (let i = 0; i < lookups; i++) events.push({ op: 'dma_read', device: 0x100, iova: 0x40000000 + (i % 64) * K4, size: 64 });
    return events;
  }

  it('a budget the LRU curve fits in refuses OPT on a trace long enough, with the memory-limit line', async () => {
    const cfg = resolveConfig({ pageSizes: ['4K'] }, 'property');
    const events = longTrace(300_000);
    const limits = { maxTableBytes: 1 << 20 };
    const lru = await lruStackCurve(memFeed(events), cfg, 64, limits);
    expect(lru.points[63].lookups).toBe(300_000);
    await expect(optCurve(memFeed(events), cfg, 64, limits)).rejects.toThrow(MemoryLimitError);
    await expect(optCurve(memFeed(events), cfg, 64, limits)).rejects.toThrow(
      /^Stopped at row \d+: --opt's recorded lookups needs about .* \(.* already in use\), over the 1 MiB limit; raise it with --max-table-memory$/,
    );
    // Within a budget that holds the stream, the same curve is computed.
    expect((await optCurve(memFeed(events), cfg, 64, { maxTableBytes: 8 << 20 })).points[63].hits).toBeGreaterThan(299_000);
  }, 120_000);
});

/**
 * Pages that fall deeper than the largest size and are invalidated there:
 * 150-300 4K pages used with a hot set and a cold tail, a 2M page (when 2M
 * is on), a second domain; single-page and range unmaps (remapped at once,
 * to the same addresses: no stale hit, so every LRU size records the same
 * references) and domain flushes, strict or lazy.
 */
function invalidatedWhileDropped(seed: number): { events: Ev[]; config: Record<string, unknown> } {
  const rng = new Rng(seed);
  const pages = 150 + rng.int(150);
  const base = 0x40000000;
  const big = 0x80000000;
  const other = 0xc0000000;
  const events: Ev[] = [
    { op: 'attach', device: 0x100, domain: 1 },
    { op: 'attach', device: 0x200, domain: 2 },
    { op: 'map', device: 0x100, domain: 1, iova: base, paddr: 0x900000000, size: pages * K4 },
    { op: 'map', device: 0x100, domain: 1, iova: big, paddr: big, size: M2 },
    { op: 'map', device: 0x200, domain: 2, iova: other, paddr: 0x700000000, size: 64 * K4 },
  ];
  const remap = (device: number, domain: number, iova: number, paddr: number, size: number) => {
    events.push({ op: 'unmap', device, domain, iova, size });
    events.push({ op: 'map', device, domain, iova, paddr, size });
  };
  for (let i = 0; i < 500; i++) {
    const r = rng.int(100);
    if (r < 5) {
      const p = rng.int(pages);
      remap(0x100, 1, base + p * K4, 0x900000000 + p * K4, K4);
    } else if (r < 8) {
      const n = 2 + rng.int(60);
      const p = rng.int(pages - n);
      remap(0x100, 1, base + p * K4, 0x900000000 + p * K4, n * K4);
    } else if (r < 9) {
      remap(0x100, 1, big, big, M2);
    } else if (r < 10) {
      events.push({ op: 'flush', domain: 1 + rng.int(2) });
    } else if (r < 20) {
      events.push({ op: 'dma_read', device: 0x200, iova: other + rng.int(64) * K4, size: 64 });
    } else if (r < 28) {
      events.push({ op: 'dma_read', device: 0x100, iova: big + rng.int(M2 - 64), size: 64 });
    } else {
      const p = rng.chance(0.4) ? rng.int(8) : rng.int(pages);
      events.push({ op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device: 0x100, iova: base + p * K4 + rng.int(K4 - 64), size: 64 });
    }
  }
  const config = { pageSizes: rng.chance(0.5) ? ['4K'] : ['4K', '2M'], invalidation: { mode: rng.chance(0.5) ? 'lazy' : 'strict', fqSize: 8 } };
  return { events, config };
}

describe('OPT counts no hit on an entry invalidated since its last use, also when a renumbering had dropped it', () => {
  // At most 16 entries, OPT's recorder renumbers a time axis of 64 marks,
  // dropping the entries deeper than the largest size: many times over these
  // traces. A recorder of 4096 entries drops nothing here; its stream, with
  // every invalidation, is the reference for the brute-force Belady.
  it('a page used, pushed out and dropped, unmapped, mapped again and used: a miss at every size', async () => {
    const events: Ev[] = [{ op: 'attach', device: 0x100, domain: 1 }];
    events.push({ op: 'map', device: 0x100, domain: 1, iova: 0x40000000, paddr: 0x900000000, size: 100 * K4 });
    const read = (p: number) => events.push({ op: 'dma_read', device: 0x100, iova: 0x40000000 + p * K4, size: 64 });
    read(0);
    for (let p = 1; p <= 70; p++) read(p); // used once each: OPT at 2 entries and up keeps page 0
    events.push({ op: 'unmap', device: 0x100, domain: 1, iova: 0x40000000, size: K4 });
    events.push({ op: 'map', device: 0x100, domain: 1, iova: 0x40000000, paddr: 0x900000000, size: K4 });
    read(0);
    const cfg = resolveConfig({ pageSizes: ['4K'] }, 'property');
    const opt = await optCurve(memFeed(events), cfg, 4);
    expect(opt.points.map((p) => p.hits)).toEqual([0, 0, 0, 0]);
  });

  for (const from of [1, 21]) {
    it(`seeded traces ${from}..${from + 19}: OPT at every size equals a brute-force Belady over the stream with every invalidation`, async () => {
      for (let seed = from; seed < from + 20; seed++) {
        const { events, config } = invalidatedWhileDropped(seed);
        const cfg = resolveConfig(config, 'property');
        const N = [4, 8, 16][seed % 3];
        const full = (await recordReferences(memFeed(events), cfg, 4096)).recorders;
        const small = (await recordReferences(memFeed(events), cfg, N)).recorders;
        expect(full.length).toBe(1);
        const stream = Array.from(full[0].stream.subarray(0, full[0].length));
        const cost = Array.from(full[0].keyCost.subarray(0, full[0].keys));
        // The same references (a key id per lookup) at both sizes; only invalidations of dropped entries may be missing.
        const refs = (r: (typeof small)[0]) => Array.from(r.stream.subarray(0, r.length)).filter((c) => c >= 0);
        expect(refs(small[0])).toEqual(refs(full[0]));
        const totalCost = stream.reduce((sum, c) => (c >= 0 ? sum + cost[c] : sum), 0);
        const opt = await optCurve(memFeed(events), cfg, N);
        for (let size = 1; size <= N; size++) {
          const { hits, saved } = bruteOpt(stream, size, cost);
          const p = opt.points[size - 1];
          expect({ seed, size, hits: p.hits, walkAccesses: p.walkAccesses }).toEqual({ seed, size, hits, walkAccesses: totalCost - saved });
        }
      }
    }, 120_000);
  }
});

describe("OPT's hit rate is null where there are no lookups, as LRU's and replay's", () => {
  // docs/curves.md: hitRate is "null at a size with no lookups, n/a in the
  // report, as in replay's summary". OPT wrote 0 (0.00% in the report) beside
  // the LRU curve's n/a on a trace of maps and no DMA (an `import` of a kernel
  // trace without --synthesize-dma).
  it('a trace of maps and unmaps only: every OPT point has hitRate null, the same as the LRU curve', async () => {
    const events: Ev[] = [
      { op: 'attach', device: 0x100, domain: 1 },
      { op: 'map', device: 0x100, domain: 1, iova: 0x40000000, paddr: 0x900000000, size: 4 * K4 },
      { op: 'unmap', device: 0x100, domain: 1, iova: 0x40000000, size: 4 * K4 },
    ];
    const cfg = resolveConfig({ pageSizes: ['4K'] }, 'no-dma');
    const opt = await optCurve(memFeed(events), cfg, 3);
    const lru = await lruStackCurve(memFeed(events), cfg, 3);
    expect(opt.points.map((p) => p.hitRate)).toEqual([null, null, null]);
    expect(opt.points.map((p) => p.hitRate)).toEqual(lru.points.map((p) => p.hitRate));
  });
});
