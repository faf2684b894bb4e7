// Seeded random traces under random configurations: the engine's counters
// must equal the plain reference's (docs/model.md, every section).
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { Replay } from '../../src/model/replay.js';
import { stableStringify } from '../../src/json.js';
import { buildSummary } from '../../src/stats/summary.js';
import { Rng } from '../../src/workloads/rng.js';
import { batchOf } from '../helpers/events.js';
import { metaOf, replayEvents } from '../helpers/replay.js';
import { engineCounters, referenceCounters } from '../helpers/counters.js';
import { randomCase } from '../helpers/random-case.js';
import { referenceReplay } from './reference.js';

export { randomCase };

// 600 cases in 30 tests of 20 seeds: each test stays a second or two of CPU,
// well inside the time limit on a loaded machine (issue 13, item 1).
const CASES = 600;
const SEEDS_PER_TEST = 20;
const SEED_GROUPS = Array.from({ length: CASES / SEEDS_PER_TEST }, (_, g) => [g * SEEDS_PER_TEST + 1, (g + 1) * SEEDS_PER_TEST] as const);

describe('engine equals the plain reference on seeded random traces', () => {
  it.each(SEED_GROUPS)('seeds %i..%i: random traces and configurations give identical counters', (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const s = replayEvents(events, config, meta);
      const r = referenceReplay(events, resolveConfig(config, 'property'), metaOf(meta));
      const got = engineCounters(s);
      const want = referenceCounters(r);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        expect({ seed, ...got }).toEqual({ seed, ...want });
      }
    }
  });
});

describe('replaying a batch in slices', () => {
  it.each([
    [1, 25],
    [26, 50],
    [51, 75],
    [76, 100],
  ] as const)('seeds %i..%i: consume(batch, from, to) over any cut of the rows gives the summary of the whole batch', (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const { events, config, meta } = randomCase(seed);
      const whole = new Replay(resolveConfig(config, 'property'), metaOf(meta));
      whole.consume(batchOf(events));
      const sliced = new Replay(resolveConfig(config, 'property'), metaOf(meta));
      const batch = batchOf(events);
      const rng = new Rng(seed);
      for (let from = 0; from < events.length;) {
        const to = Math.min(events.length, from + rng.int(20));
        sliced.consume(batch, from, to); // an empty slice included
        from = to;
      }
      expect(stableStringify(buildSummary(sliced, ['t']))).toBe(stableStringify(buildSummary(whole, ['t'])));
    }
  });
});
