// Every point of a curve equals `replay` at that geometry, counter for
// counter, on seeded random traces (docs/model.md, all of it: maps, partial
// unmaps, attach/detach, PASIDs and SVA, device TLBs, strict and lazy).
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { lruStackCurve, pointsCurve } from '../../src/run/curve.js';
import { countersOf, memFeed, replayAt } from '../helpers/curve.js';
import { randomCase, staleCase } from '../helpers/random-case.js';

// Each size is one replay to compare with: sizes and seeds are kept to what a
// loaded 2-core machine runs in seconds.
const N = 12;
const SEEDS_PER_TEST = 5;
const SEEDS = { random: 50, stale: 70 };

const CASES = { random: randomCase, stale: staleCase };

describe.each(['random', 'stale'] as const)('fully associative LRU curve equals replay at every size (%s traces)', (kind) => {
  for (let from = 1; from <= SEEDS[kind]; from += SEEDS_PER_TEST) {
    it(`seeds ${from}..${from + SEEDS_PER_TEST - 1}`, async () => {
      for (let seed = from; seed < from + SEEDS_PER_TEST; seed++) {
        const { events, config, meta } = CASES[kind](seed);
        const cfg = resolveConfig(config, 'property');
        const curve = await lruStackCurve(memFeed(events, meta), cfg, N);
        for (let size = 1; size <= N; size++) {
          const want = replayAt(events, cfg, meta, 1, size);
          const got = countersOf(curve.points[size - 1]);
          if (JSON.stringify(got) !== JSON.stringify(want)) expect({ seed, size, ...got }).toEqual({ seed, size, ...want });
        }
      }
    });
  }
});

describe.each(['random', 'stale'] as const)('4-way LRU curve equals replay at every number of sets (%s traces)', (kind) => {
  for (let from = 1; from <= 10; from += SEEDS_PER_TEST) {
    it(`seeds ${from}..${from + SEEDS_PER_TEST - 1}`, async () => {
      for (let seed = from; seed < from + SEEDS_PER_TEST; seed++) {
        const { events, config, meta } = CASES[kind](seed);
        const cfg = resolveConfig(config, 'property');
        const curve = await pointsCurve(memFeed(events, meta), cfg, 'lru', 4, N);
        expect(curve.points.map((p) => p.sets)).toEqual([1, 2]); // 4 x 4 > N
        for (const p of curve.points) expect({ seed, ...countersOf(p) }).toEqual({ seed, ...replayAt(events, cfg, meta, p.sets, 4) });
      }
    });
  }
});

describe('a group budget: sizes past it are listed as approximate, every other size stays exact', () => {
  for (let from = 1; from <= 20; from += SEEDS_PER_TEST) {
    it(`stale traces, at most 2 groups, seeds ${from}..${from + SEEDS_PER_TEST - 1}`, async () => {
      for (let seed = from; seed < from + SEEDS_PER_TEST; seed++) {
        const { events, config, meta } = staleCase(seed);
        const cfg = resolveConfig(config, 'property');
        const curve = await lruStackCurve(memFeed(events, meta), cfg, N, 2);
        expect(curve.groups).toBeLessThanOrEqual(2);
        const approximate = (size: number) => curve.approximate!.some(([lo, hi]) => lo <= size && size <= hi);
        for (let size = 1; size <= N; size++) {
          if (approximate(size)) continue;
          expect({ seed, size, ...countersOf(curve.points[size - 1]) }).toEqual({ seed, size, ...replayAt(events, cfg, meta, 1, size) });
        }
      }
    });
  }
});
