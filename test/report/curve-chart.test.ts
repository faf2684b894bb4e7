// A chart of a long curve draws the sizes where the hit rate changes (issue
// 25: a 2^20-size curve sent a million points to the chart renderer).
import { describe, expect, it } from 'vitest';
import { chartPoints, curveCharts, curvesHtml, curvesMarkdown, type CurveOf } from '../../src/report/curve.js';
import type { CurveCounters } from '../../src/run/curve.js';

function curveOf(n: number, rate: (size: number) => number): CurveCounters[] {
  return Array.from({ length: n }, (_, i) => {
    const hitRate = rate(i + 1);
    return {
      entries: i + 1,
      sets: 1,
      lookups: 1e6,
      hits: hitRate * 1e6,
      misses: 0,
      staleHits: 0,
      walks: 0,
      walkAccesses: 0,
      faults: 0,
      hitRate,
      translationCostNs: 0,
    };
  });
}

/** The hit rate a step-after line through `pts` draws at `size`. */
function drawnAt(pts: CurveCounters[], size: number): number {
  let y = NaN;
  for (const p of pts) if (p.entries <= size) y = p.hitRate;
  return y;
}

describe('chartPoints', () => {
  it('up to 4096 sizes: every point, as before', () => {
    const c = curveOf(4096, (s) => Math.min(1, s / 1000));
    expect(chartPoints(c)).toBe(c);
  });

  it('a long curve with sparse steps: only the steps, and the line drawn is the same at every size', () => {
    const c = curveOf(50_000, (s) => Math.floor(s / 500) / 100);
    const pts = chartPoints(c);
    expect(pts.length).toBeLessThan(200);
    for (let s = 1; s <= c.length; s += 7) expect(drawnAt(pts, s)).toBe(c[s - 1].hitRate);
    expect(pts[pts.length - 1]).toBe(c[c.length - 1]);
  });

  it('a long curve that changes at every size: bounded per octave, ends kept, every kept point as computed', () => {
    const c = curveOf(1 << 16, (s) => 1 - 1 / (s + 1));
    const pts = chartPoints(c);
    expect(pts.length).toBeLessThanOrEqual(17 * 64 * 4);
    expect(pts[0]).toBe(c[0]);
    expect(pts[pts.length - 1]).toBe(c[c.length - 1]);
    for (const p of pts) expect(p).toBe(c[p.entries - 1]);
  });
});

describe('the curve report marks the sizes --max-groups left approximate', () => {
  // 'curve traces/nic.arrows --mode lazy --max-entries 256' (default --max-groups 64) has
  // sizes 1-3, 18, ..., 58-64 approximate: at 64 entries 5,408 hits where replay gives
  // 5,407. The report opened with 'Every point is what replay reports at that IOTLB
  // geometry' and its table showed the 64 row as any other; only the knees' 'how' listed them.
  const ops = { dmaEvents: 1, maps: 0, mapErrors: 0, unmaps: 0, unmapErrors: 0, attaches: 0, attachErrors: 0 };
  const curve = (approximate: [number, number][]): CurveOf => ({
    trace: 't',
    pageSizes: '4K',
    mode: 'lazy',
    vendor: 'vtd',
    result: { policy: 'lru', ways: 0, method: 'stack', points: curveOf(8, (s) => s / 10), pageSizesUsed: ['4K'], groups: 64, passes: 2, approximate, ops },
  });

  it('an approximate size is marked in its row, and the opening sentence names the exception', async () => {
    const md = curvesMarkdown([curve([[1, 3]])]);
    expect(md).toContain(
      'Every point is what `replay` reports at that IOTLB geometry, except the sizes marked approximate (--max-groups reached: the knees\' "how" lists them).',
    );
    expect(md).toContain('| 2 (approximate) | 1 | 20.00% |');
    expect(md).toContain('| 4 | 1 | 40.00% |');
    const html = await curvesHtml([curve([[1, 3]])]);
    expect(html).toContain('except the sizes marked approximate');
    expect(html).toContain('<td>2 (approximate)</td>');
  });

  it("an OPT curve's points are named an exception too: they are a bound, not what replay reports", () => {
    // 'curve traces/nic.arrows --opt' opened with 'Every point is what replay reports at that IOTLB geometry.'
    const opt: CurveOf = { ...curve([]), result: { ...curve([]).result, policy: 'opt' } };
    expect(curvesMarkdown([curve([]), opt])).toContain(
      "Every point is what `replay` reports at that IOTLB geometry, except the OPT curves' points (Belady's bound, which no replacement policy of replay's reaches).",
    );
    expect(curvesMarkdown([curve([[1, 3]]), opt])).toContain(
      'except the sizes marked approximate (--max-groups reached: the knees\' "how" lists them) and the OPT curves\' points',
    );
  });

  it('a curve with every size exact reads as before', () => {
    const md = curvesMarkdown([curve([])]);
    expect(md).toContain('Every point is what `replay` reports at that IOTLB geometry. Rows:');
    expect(md).not.toContain('approximate');
  });
});

describe('the curve report shows every geometry a points curve replayed', () => {
  // 'curve traces/nic.arrows --ways 3 --max-entries 13' replays 3, 6 and 12 entries (1, 2
  // and 4 sets); the table kept the power-of-two sizes and the last, so it showed 12 alone.
  const ops = { dmaEvents: 1, maps: 0, mapErrors: 0, unmaps: 0, unmapErrors: 0, attaches: 0, attachErrors: 0 };
  it('a 3-way curve: a row for each of its 3, 6 and 12 entries', () => {
    const points = curveOf(12, (s) => s / 20).filter((p) => [3, 6, 12].includes(p.entries));
    for (const p of points) p.sets = p.entries / 3;
    const c: CurveOf = {
      trace: 't',
      pageSizes: '4K',
      mode: 'strict',
      vendor: 'vtd',
      result: { policy: 'lru', ways: 3, method: 'points', points, pageSizesUsed: ['4K'], ops },
    };
    const md = curvesMarkdown([c]);
    expect(md).toContain('| 3 | 1 | 15.00% |');
    expect(md).toContain('| 6 | 2 | 30.00% |');
    expect(md).toContain('| 12 | 4 | 60.00% |');
  });
});

describe("the curve chart's legend has every policy a curve takes", () => {
  // docs/curves.md: --policy lru|fifo|plru|random|flush-when-full. The chart's dashes
  // listed lru, opt, fifo, plru and random only: a flush-when-full curve had an empty
  // 'policy' legend and no dash of its own.
  const ops = { dmaEvents: 1, maps: 0, mapErrors: 0, unmaps: 0, unmapErrors: 0, attaches: 0, attachErrors: 0 };
  it('a flush-when-full curve beside an LRU one: both in the legend, each with its dash', async () => {
    const of = (policy: 'lru' | 'flush-when-full'): CurveOf => ({
      trace: 't',
      pageSizes: '4K',
      mode: 'strict',
      vendor: 'vtd',
      result: { policy, ways: 0, method: policy === 'lru' ? 'stack' : 'points', points: curveOf(4, (s) => s / 10), pageSizesUsed: ['4K'], ops },
    });
    let specs: unknown[] = [];
    await curveCharts([of('lru'), of('flush-when-full')], 300, 180, async (s) => {
      specs = s;
      return s.map(() => '');
    });
    const dash = (specs[0] as { encoding: { strokeDash: { scale: { domain: string[]; range: number[][] } } } }).encoding.strokeDash.scale;
    expect(dash.domain).toEqual(['lru', 'flush-when-full']);
    expect(dash.range).toHaveLength(2);
    expect(dash.range[1]).not.toEqual(dash.range[0]);
  });
});
