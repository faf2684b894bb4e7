// The curve's DMA loop (src/model/stackrun.ts) against the generic loop it
// replaces (ReplayLimits.generic), on seeded random traces and
// configurations: every output of the curve (counters at each size, per page
// size, stale hits, faults, groups, approximate ranges) must be the same.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { CurveGroup, StackIotlb } from '../../src/caches/stack.js';
import { Replay } from '../../src/model/replay.js';
import { stackRunSource } from '../../src/model/stackrun.js';
import { lruStackCurve, type Feed } from '../../src/run/curve.js';
import { optCurve } from '../../src/run/opt.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import type { Ev } from '../helpers/events.js';
import { memFeed } from '../helpers/curve.js';
import { randomCase, staleCase } from '../helpers/random-case.js';
import { consumeInTwo, metaOf, type Meta } from '../helpers/replay.js';

/** Counts the runs of `r` that take the curve's loop (a spy on its context's devBase, set once per such run). */
function spyStackRuns(r: Replay, seen: { stackRuns: number }): void {
  const x = (r as unknown as { dma: { stackContext: { devBase: unknown } } }).dma.stackContext;
  let devBase = x.devBase;
  Object.defineProperty(x, 'devBase', {
    get: () => devBase,
    set: (v) => {
      seen.stackRuns++;
      devBase = v;
    },
  });
}

/** A feed that also counts the runs that took the curve's loop. */
function countingFeed(events: Ev[], meta: Meta, seen: { stackRuns: number }): Feed {
  const inner = memFeed(events, meta);
  return (make) =>
    inner((m) => {
      const replays = make(m);
      for (const r of replays) spyStackRuns(r, seen);
      return replays;
    });
}

/**
 * A random case the curve takes: no walk caches (curves refuse them); sizes
 * 1..N; a quarter of the cases moved up by 2^45 (pages past 2^32: the loop's
 * arithmetic on doubles, and the index' keys past 32 bits).
 */
function curveCase(seed: number, base: (seed: number) => { events: Ev[]; config: Record<string, unknown>; meta: Meta }) {
  const rng = new Rng(seed * 104729);
  const shift = rng.chance(0.25) ? 2 ** 45 : 0;
  const { events: unmoved, config, meta } = base(seed);
  const events = unmoved.map((e) => ({
    ...e,
    ...(typeof e.iova === 'number' ? { iova: e.iova + shift } : {}),
    ...(typeof e.paddr === 'number' ? { paddr: e.paddr + shift } : {}),
  }));
  const n = [1, 2, 3, 8, 33, 64][rng.int(6)];
  const noDevtlb = rng.chance(0.5);
  const devices = config.devices
    ? Object.fromEntries(Object.entries(config.devices as Record<string, object>).map(([d, e]) => [d, noDevtlb ? { ...e, devtlb: false } : e]))
    : undefined;
  const { walkCache: _w, ...rest } = config;
  return { events, config: devices ? { ...rest, devices } : rest, meta, n, budget: rng.chance(0.2) ? 1 + rng.int(3) : Infinity };
}

async function curveOf(c: ReturnType<typeof curveCase>, generic: boolean, seen: { stackRuns: number }): Promise<string> {
  const cfg = resolveConfig(c.config, 'stackrun');
  const curve = await lruStackCurve(countingFeed(c.events, c.meta, seen), cfg, c.n, c.budget, { generic });
  return stableStringify(curve);
}

async function expectSameBothWays(first: number, last: number, base: Parameters<typeof curveCase>[1]): Promise<number> {
  let fastRuns = 0;
  for (let seed = first; seed <= last; seed++) {
    const c = curveCase(seed, base);
    const generic = { stackRuns: 0 };
    const fast = { stackRuns: 0 };
    const want = await curveOf(c, true, generic);
    const got = await curveOf(c, false, fast);
    expect(generic.stackRuns).toBe(0);
    fastRuns += fast.stackRuns;
    if (got !== want) expect({ seed, n: c.n, got }).toEqual({ seed, n: c.n, got: want });
  }
  return fastRuns;
}

describe('the curve loop equals the generic loop', () => {
  for (const [lo, hi] of [
    [1, 25],
    [26, 50],
    [51, 75],
    [76, 100],
  ])
    it(`random cases, seeds ${lo}..${hi}`, { timeout: 120_000 }, async () => {
      expect(await expectSameBothWays(lo, hi, randomCase)).toBeGreaterThan(0);
    });

  it('stale cases (lazy unmaps, remaps alike and not), seeds 1..40', { timeout: 120_000 }, async () => {
    expect(await expectSameBothWays(1, 40, staleCase)).toBeGreaterThan(0);
  });

  it('OPT over the same cases (its recorder takes the generic loop) is unchanged by the option', { timeout: 120_000 }, async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const c = curveCase(seed, randomCase);
      const cfg = resolveConfig(c.config, 'stackrun');
      const a = stableStringify(await optCurve(memFeed(c.events, c.meta), cfg, c.n, { generic: true }));
      const b = stableStringify(await optCurve(memFeed(c.events, c.meta), cfg, c.n));
      expect({ seed, b }).toEqual({ seed, b: a });
    }
  });

  it('many small runs over a few 4K and 2M pages, past the time axis and the index growing (sizes 1..300)', { timeout: 120_000 }, async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = new Rng(seed * 31);
      const K4 = 0x1000;
      const M2 = 0x200000;
      // Even seeds: every address past 2^45 (pages past 2^32).
      const hi = seed % 2 === 0 ? 2 ** 45 : 0;
      const events: Ev[] = [{ op: 'attach', device: 0x300, domain: 1 }];
      // 2048 4K pages and 8 2M pages; a few unmapped and remapped as the DMAs go.
      for (let p = 0; p < 2048; p++) events.push({ op: 'map', domain: 1, iova: hi + 0x100000000 + p * K4, paddr: hi + 0x800000000 + p * K4, size: K4 });
      for (let h = 0; h < 8; h++) events.push({ op: 'map', domain: 1, iova: hi + 0x200000000 + h * M2, paddr: hi + 0x900000000 + h * M2, size: M2 });
      for (let i = 0; i < 6000; i++) {
        if (rng.chance(0.02)) {
          const p = hi + 0x100000000 + rng.int(2048) * K4;
          events.push({ op: 'unmap', domain: 1, iova: p, size: K4 }, { op: 'map', domain: 1, iova: p, paddr: hi + 0xa00000000 + rng.int(4096) * K4, size: K4 });
          continue;
        }
        const huge = rng.chance(0.2);
        const iova = hi + (huge ? 0x200000000 + rng.int(8 * 512) * K4 : 0x100000000 + rng.int(rng.chance(0.5) ? 300 : 2048) * K4);
        events.push({ op: rng.chance(0.5) ? 'dma_read' : 'dma_write', device: 0x300, iova: iova + rng.int(4000), size: 64 << rng.int(8) });
      }
      const config = { pageSizes: ['4K', '2M', '1G'], invalidation: { mode: rng.chance(0.5) ? 'strict' : 'lazy' } };
      for (const n of [1, 64, 300]) {
        const c = { events, config, meta: {}, n, budget: Infinity };
        const generic = { stackRuns: 0 };
        const fast = { stackRuns: 0 };
        const want = await curveOf(c, true, generic);
        expect({ seed, n, got: await curveOf(c, false, fast) }).toEqual({ seed, n, got: want });
        expect(fast.stackRuns).toBeGreaterThan(0);
        // Most DMAs translate (a few cross past the last page mapped).
        const top = (JSON.parse(want) as { points: { hits: number; faults: number }[] }).points[n - 1];
        expect({ seed, n, hit: top.hits > 0, fewFaults: top.faults < 50 }).toEqual({ seed, n, hit: true, fewFaults: true });
      }
    }
  });

  it('a gain refreshes its entry with the leaf of the walk it saves: remapped alike later is no stale hit', async () => {
    // Size 1 misses A's third DMA (B is on top), size 2 hits it: a gain, whose
    // fill refreshes A with the leaf size 1 walks to. A is then unmapped and
    // mapped again alike (lazy: no flush yet): its next DMA hits at every size
    // on an entry of the same leaf, no stale hit.
    const [a, b] = [0x100000, 0x101000];
    const events: Ev[] = [
      { op: 'attach', device: 0x300, domain: 1 },
      { op: 'map', domain: 1, iova: a, paddr: 0x9000000, size: 0x1000 },
      { op: 'map', domain: 1, iova: b, paddr: 0x9001000, size: 0x1000 },
      { op: 'dma_read', device: 0x300, iova: a, size: 64 },
      { op: 'dma_read', device: 0x300, iova: b, size: 64 },
      { op: 'dma_read', device: 0x300, iova: a, size: 64 },
      { op: 'unmap', domain: 1, iova: a, size: 0x1000 },
      { op: 'map', domain: 1, iova: a, paddr: 0x9000000, size: 0x1000 },
      { op: 'dma_read', device: 0x300, iova: a, size: 64 },
    ];
    const c = { events, config: { pageSizes: ['4K'], invalidation: { mode: 'lazy', fqSize: 64, fqTimeoutNs: 1e9 } }, meta: {}, n: 2, budget: Infinity };
    const fast = { stackRuns: 0 };
    const got = JSON.parse(await curveOf(c, false, fast)) as { points: { hits: number; staleHits: number }[] };
    expect(fast.stackRuns).toBeGreaterThan(0);
    expect(got.points.map((p) => [p.hits, p.staleHits])).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(got).toEqual(JSON.parse(await curveOf(c, true, { stackRuns: 0 })));
  });

  it("takes only the profiler itself: a subclass (as OPT's recorder) keeps the generic loop", () => {
    class Sub extends StackIotlb {}
    const events: Ev[] = [
      { op: 'attach', device: 0x300, domain: 1 },
      { op: 'map', domain: 1, iova: 0x100000, paddr: 0x100000, size: 0x1000 },
      { op: 'dma_read', device: 0x300, iova: 0x100000, size: 64 },
    ];
    for (const sub of [false, true]) {
      const seen = { stackRuns: 0 };
      const r = new Replay(resolveConfig({}, 'stackrun'), metaOf({}), {
        iotlbOf: (_i, pool) => (sub ? new Sub(new CurveGroup(1, 4), pool, 4) : new StackIotlb(new CurveGroup(1, 4), pool, 4)),
      });
      spyStackRuns(r, seen);
      consumeInTwo(r, events);
      expect({ sub, runs: seen.stackRuns }).toEqual({ sub, runs: sub ? 0 : 1 });
    }
  });

  it('writes the probe once per order of the size set', () => {
    const src = stackRunSource({ orders: [18, 9, 0], levels: 4, granuleOrder: 0, bitsPerLevel: 9 });
    for (const o of [18, 9, 0]) expect(src).toContain(`live[${o}] !== 0`);
  });
});
