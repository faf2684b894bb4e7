// IOTLB lanes (src/caches/lanes.ts, run/run.ts): points that differ only in
// their IOTLB, replayed as lanes of one replay, must give each point the
// summary its own replay gives, byte for byte; a lane that would part from
// its leader must say so instead.
import { describe, expect, it } from 'vitest';
import { resolveConfig, type ReplayConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { laneGroups, laneReplay, laneSummaries } from '../../src/run/run.js';
import { buildSummary } from '../../src/stats/summary.js';
import { stableStringify } from '../../src/json.js';
import { Rng } from '../../src/workloads/rng.js';
import type { Ev } from '../helpers/events.js';
import { consumeInTwo, metaOf, type Meta } from '../helpers/replay.js';
import { randomCase, staleCase } from '../helpers/random-case.js';

/** 2 to 4 IOTLB geometries and policies on an otherwise equal strict configuration. */
function laneConfigs(seed: number, base: Record<string, unknown>): ReplayConfig[] {
  const rng = new Rng(seed * 104729);
  const n = 2 + rng.int(3);
  const policies = ['lru', 'fifo', 'plru', 'random', 'flush-when-full'];
  const inv = { ...(base.invalidation as object), mode: 'strict' };
  // Now and then a lane of more than 64 ways: an indexed table (caches/table.ts), probed through its methods.
  return Array.from({ length: n }, () => {
    const policy = policies[rng.int(5)];
    const ways = rng.chance(0.15) ? (policy === 'plru' ? 128 : 65 + rng.int(30)) : [1, 2, 4][rng.int(3)];
    return resolveConfig({ ...base, invalidation: inv, iotlb: { sets: [1, 2, 4, 8][rng.int(4)], ways, policy } }, 'lanes');
  });
}

/** Checks every exact lane against its own replay; returns how many lanes were exact. */
function check(seed: number, events: Ev[], configs: ReplayConfig[], meta: Meta): number {
  const r = laneReplay(configs, metaOf(meta), {});
  consumeInTwo(r, events);
  const got = laneSummaries(r, configs, ['t']);
  let exact = 0;
  configs.forEach((c, j) => {
    const alone = new Replay(c, metaOf(meta));
    consumeInTwo(alone, events);
    const want = stableStringify(buildSummary(alone, ['t']));
    if (got[j] === null) return;
    exact++;
    const have = stableStringify(got[j]);
    if (have !== want) expect({ seed, lane: j, have }).toEqual({ seed, lane: j, have: want });
  });
  expect(got[0]).not.toBeNull();
  return exact;
}

const GROUPS = Array.from({ length: 10 }, (_, g) => [g * 20 + 1, g * 20 + 20] as const);

describe("IOTLB lanes give each point its own replay's summary", () => {
  it.each(GROUPS)('random strict traces, seeds %i..%i: every exact lane equals its own replay', (first, last) => {
    let lanes = 0;
    let exact = 0;
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const configs = laneConfigs(seed, config);
      lanes += configs.length;
      exact += check(seed, events, configs, meta);
    }
    // Not vacuous: in strict mode lanes part only on a stale hit (SVA domains sharing a PASID).
    expect(exact / lanes).toBeGreaterThan(0.9);
  });

  it.each(GROUPS.slice(0, 3))(
    'stale traces made strict, seeds %i..%i: every exact lane equals its own replay, and lanes part where a stale hit would',
    (first, last) => {
      let parted = 0;
      for (let seed = first; seed <= last; seed++) {
        const { events, config, meta } = staleCase(seed);
        const configs = laneConfigs(seed, config);
        parted += configs.length - check(seed, events, configs, meta);
      }
      // staleCase shares an SVA PASID between two devices: one tag over two page tables.
      expect(parted).toBeGreaterThan(0);
    },
  );
});

describe('laneGroups', () => {
  const c = (o: object) => resolveConfig(o, 't');
  it('groups strict points equal but for the IOTLB, in order, and leaves lazy points and walk caches alone', () => {
    const configs = [
      c({ iotlb: { sets: 16, ways: 4 } }),
      c({ iotlb: { sets: 32, ways: 4 } }),
      c({ pageSizes: ['4K'], iotlb: { sets: 16, ways: 4 } }),
      c({ iotlb: { sets: 64, ways: 8, policy: 'fifo' } }),
      c({ invalidation: { mode: 'lazy' } }),
      c({ invalidation: { mode: 'lazy' }, iotlb: { sets: 32, ways: 4 } }),
      c({ walkCache: { sets: 4, ways: 4 } }),
      c({ walkCache: { sets: 4, ways: 4 }, iotlb: { sets: 32, ways: 4 } }),
      c({ pageSizes: ['4K'], iotlb: { sets: 8, ways: 4 } }),
    ];
    expect(laneGroups(configs)).toEqual([[0, 1, 3], [2, 8], [4], [5], [6], [7]]);
  });
});

describe('planTasks with lane groups', () => {
  it('takes the points group by group, so that strict points alternating with lazy ones share tasks', async () => {
    const { laneGroupOf, planTasks } = await import('../../src/run/sweep.js');
    const c = (o: object) => resolveConfig(o, 't');
    // --iotlb 32x4 64x4 128x8 --mode strict lazy: the mode varies fastest.
    const points = [32, 64, 128].flatMap((entries) => ['strict', 'lazy'].map((mode) => c({ iotlb: { entries, ways: 4 }, invalidation: { mode } })));
    const tasks = planTasks([['a']], points.length, 2, undefined, laneGroupOf(points));
    expect(tasks.map((t) => t.pointIndexes)).toEqual(
      [
        [0, 1, 2],
        [3, 4, 5],
      ].map(() => expect.any(Array)),
    );
    expect(tasks[0].pointIndexes).toEqual([0, 2, 4]); // the three strict points: one replay with two lanes
    expect(tasks[1].pointIndexes).toEqual([1, 3, 5]);
  });
});
