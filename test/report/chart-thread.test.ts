// The chart thread (report/chart-thread.ts) draws `curve`'s charts off the
// main thread: its report must be the bytes the main thread draws (the
// warm-up chart it drew first changes nothing), and a chart it cannot draw
// or a thread already closed is an error, never a wait. Runs the build
// (dist/), as the CLI tests do.
import type * as vl from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { ChartThread } from '../../src/report/chart-thread.js';
import { curvesHtml, type CurveOf } from '../../src/report/curve.js';
import type { CurveCounters } from '../../src/run/curve.js';

function curve(mode: string, policy: 'lru' | 'opt', n: number, shift: number): CurveOf {
  const points: CurveCounters[] = [];
  for (let e = 1; e <= n; e++) {
    const hits = Math.floor((1000 * e) / (e + shift));
    points.push({
      entries: e,
      sets: 1,
      lookups: 1000,
      hits,
      misses: 1000 - hits,
      staleHits: 0,
      walks: 1000 - hits,
      walkAccesses: 4 * (1000 - hits),
      faults: 0,
      hitRate: hits / 1000,
      translationCostNs: 7 * e,
    });
  }
  return {
    trace: 't',
    pageSizes: '4K+2M',
    mode,
    vendor: 'vtd',
    result: { policy, ways: 0, method: 'stack', points, pageSizesUsed: ['4K', '2M'], groups: 1, passes: 1, approximate: [] },
  };
}

describe('the chart thread draws the bytes the main thread draws', () => {
  it('two panels, LRU and OPT, after its warm-up', async () => {
    const curves = [curve('strict', 'lru', 300, 40), curve('strict', 'opt', 300, 20), curve('lazy', 'lru', 300, 30)];
    const thread = ChartThread.start(300);
    try {
      expect(await curvesHtml(curves, 'x', thread.render)).toBe(await curvesHtml(curves, 'x'));
    } finally {
      await thread.close();
    }
  }, 120_000);
});

describe('the chart thread fails, never waits', () => {
  it('a spec the libraries refuse is an error', async () => {
    const thread = ChartThread.start(8);
    try {
      await expect(thread.render([{ data: { values: [] }, mark: 'no-such-mark' } as unknown as vl.TopLevelSpec])).rejects.toThrow(/chart thread/);
    } finally {
      await thread.close();
    }
  }, 120_000);

  it('a render after close is an error', async () => {
    const thread = ChartThread.start(8);
    await thread.close();
    await expect(thread.render([])).rejects.toThrow(/chart thread: closed/);
  }, 120_000);
});
