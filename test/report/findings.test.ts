import { describe, expect, it } from 'vitest';
import { hitRateChart, hitRateSeries, pageMixChart, translationCostChart } from '../../src/report/charts.js';
import { METRICS, compactPageSizes, gridTable, rankTable, sweepMarkdown, withVariants, type SweepRow } from '../../src/report/compare.js';
import { flatLines, geometryOrder, rankAcrossTraces, recommend, tradeoff } from '../../src/report/findings.js';
import { sweepHtml } from '../../src/report/html.js';
import { replayMarkdown } from '../../src/report/markdown.js';
import type { Ev } from '../helpers/events.js';
import { replayEvents } from '../helpers/replay.js';

/** A sweep row with the metrics the report reads; everything else neutral. */
function row(p: {
  trace?: string;
  pageSizes: string;
  entries: number;
  ways: number;
  mode?: string;
  hit?: number;
  cost?: number;
  inv?: number;
  stale?: number;
  windowNs?: number;
  pages?: Record<string, number>;
  faults?: number;
  mapErrors?: number;
  /** Lazy: maps that reused an IOVA still in the flush queue, of `maps`. */
  reused?: number;
  maps?: number;
  /** The page sizes the point allows (default: the label's pieces). */
  sizes?: number;
  /** SweepRow.variant (withVariants). */
  variant?: string;
}): SweepRow {
  const mode = p.mode ?? 'strict';
  return {
    trace: p.trace ?? 't',
    point: `${p.pageSizes} ${p.entries}x${p.ways} ${mode}`,
    pageSizes: p.pageSizes,
    pageSizeCount: p.sizes ?? p.pageSizes.split(/[|+,]/).length,
    variant: p.variant ?? '',
    iotlbEntries: p.entries,
    iotlbWays: p.ways,
    policy: 'lru',
    mode,
    metrics: {
      ...Object.fromEntries(METRICS.map((m) => [m.key, null])),
      iotlbHitRate: p.hit ?? 0.5,
      translationCostNs: p.cost ?? 1e6,
      invalidationCostNs: p.inv ?? 0,
      staleHits: p.stale ?? 0,
      staleWindowMaxNs: p.windowNs ?? 0,
    },
    mapPages: p.pages ?? { '4K': 10 },
    dmaEvents: 100,
    counts: { dma_faults: p.faults ?? 0, map_errors: p.mapErrors ?? 0, map_ops: p.maps ?? 0 },
    reusedBeforeFlush: p.reused ?? null,
  } as SweepRow;
}

const BITMAPS = ['4K', '4K|2M', '4K|2M|1G'];
const GEOMS: [number, number][] = [
  [32, 4],
  [64, 4],
  [128, 8],
  [256, 8],
];

/** A grid of rows whose translation cost comes from f(bitmap, entries). */
function grid(f: (b: string, e: number) => number, mode = 'strict'): SweepRow[] {
  return BITMAPS.flatMap((b) => GEOMS.map(([e, w]) => row({ pageSizes: b, entries: e, ways: w, mode, cost: f(b, e), hit: 1 - f(b, e) / 1e7 })));
}

describe('recommendation', () => {
  it('names the smallest IOTLB and the fewest page sizes within the tolerance, with the numbers that decide it', () => {
    // 4K needs 256 entries; 4K|2M reaches the best at 64.
    const rows = grid((b, e) => (b === '4K' ? 4e6 - e * 1e4 : e >= 64 ? 1e6 : 2e6));
    const text = recommend(rows);
    expect(text).toMatch(
      /^A 64x4 IOTLB with page sizes 4K\|2M or 4K\|2M\|1G \(equal\) comes within 5% of the best translation cost, 1\.00 ms against 1\.00 ms/,
    );
    expect(text).toContain('the best 32-entry point costs 2.00 ms (+100%)');
    expect(text).toContain('4K there costs 3.36 ms (+236%)');
  });

  it('says "all equal" when every point ties, rather than naming one as the best', () => {
    const text = recommend(grid(() => 5e6));
    expect(text).toMatch(/^All equal: every one of the 12 points has a translation cost of 5\.00 ms/);
    expect(text).toContain('take the smallest, 32x4 with 4K');
  });

  it('says "all equal" for the bitmaps when they tie at the recommended size', () => {
    expect(recommend(grid((_, e) => (e >= 128 ? 1e6 : 3e6)))).toMatch(/^A 128x8 IOTLB with any page-size bitmap \(4K, 4K\|2M, 4K\|2M\|1G: all equal\)/);
  });

  it('takes fewer ways at the same size: 64x1 before 64x4 when both are within the tolerance', () => {
    const rows = [
      row({ pageSizes: '4K', entries: 64, ways: 4, cost: 1e6 }),
      row({ pageSizes: '4K', entries: 64, ways: 1, cost: 1.01e6 }),
      row({ pageSizes: '4K', entries: 32, ways: 1, cost: 9e6 }),
    ];
    expect(recommend(rows)).toMatch(/^A 64x1 IOTLB/);
    expect(geometryOrder([...rows, row({ pageSizes: '4K', entries: 64, ways: 64 })])).toEqual(['32x1', '64x1', '64x4', '64xfull']);
  });

  it('a trace without DMA gets no recommendation', () => {
    const rows = grid(() => 0).map((r) => ({ ...r, dmaEvents: 0 }));
    expect(recommend(rows)).toMatch(/^No recommendation: the trace has no DMA events/);
  });
});

describe('points with DMA faults or map errors are no candidates (issue: 64K+512M recommended at "0 ns against 0 ns")', () => {
  it('the recommendation skips a broken point however cheap, and the report lists it in a warning with its counts', async () => {
    const rows = [
      row({ pageSizes: '4K', entries: 64, ways: 4, cost: 2e6 }),
      row({ pageSizes: '4K+2M', entries: 64, ways: 4, cost: 1e6 }),
      row({ pageSizes: '64K+512M', entries: 32, ways: 4, cost: 0, faults: 6567, mapErrors: 3251 }),
    ];
    const text = recommend(rows);
    expect(text).toMatch(/^A 64x4 IOTLB with page sizes 4K\+2M comes within 5% of the best translation cost, 1\.00 ms against 1\.00 ms/);
    expect(text).not.toContain('64K+512M');
    expect(text).toContain('it is the smallest IOTLB tried'); // the broken 32-entry point is not "smaller"
    const md = sweepMarkdown(rows, ['t']);
    expect(md).toContain('> **Warning.** 1 of 3 point(s) have DMA faults or map errors');
    expect(md).toContain('> | 64K+512M 32x4 strict | 6,567 | 3,251 |');
    expect(md).toContain('(1 point(s) with DMA faults or map errors left out.)');
    expect(md).toMatch(/\| point \| DMA faults \| map errors \| IOTLB hit rate/);
    const html = await sweepHtml(rows, ['t']);
    expect(html).toContain('<div class="warning" role="alert"><p><strong>Warning.</strong> 1 of 3 point(s)');
    expect(html).toContain('<td>64K+512M 32x4 strict</td><td>6,567</td><td>3,251</td>');
    // The charts: no line for it, and an empty heatmap cell that says so (its 0 ns would look the cheapest).
    expect([...new Set(hitRateSeries(rows).map((v) => v.series))]).toEqual(['4K = 4K+2M']);
    const heat = await translationCostChart(rows);
    expect(heat.svg).toMatch(/<text[^>]*>broken<\/text>/);
    expect(heat.svg).not.toMatch(/<text[^>]*>0 ns<\/text>/);
  });

  it('when every point is broken there is no pick, and the recommendation says why', () => {
    const rows = grid(() => 0).map((r, i) => ({ ...r, counts: { dma_faults: 10 + i, map_errors: i % 2 } }));
    expect(recommend(rows)).toBe(
      'No recommendation: every point has DMA faults or map errors (at least 10 DMA faults and 0 map errors each), so no cost here measures a working configuration; see the warning.',
    );
    expect(sweepMarkdown(rows, ['t'])).toContain('> **Warning.** All 12 point(s) have DMA faults or map errors');
  });

  it("the warning counts a broken point's failed attaches and says what they do, when a point has some", async () => {
    // sweep traces/mixed.arrows --vendor smmuv3: 810 DMA faults, 0 map errors and 1 of 7
    // attaches failed (the cause, which stderr names); the warning's table had faults and
    // map errors only, and its one cause was a map the page sizes cannot hold.
    const ok = row({ pageSizes: '4K', entries: 64, ways: 4 });
    const attach = row({ pageSizes: '4K', entries: 32, ways: 4, faults: 810 });
    attach.counts = { ...attach.counts, attach_ops: 7, attach_errors: 1 };
    const md = sweepMarkdown([ok, attach], ['t']);
    expect(md).toContain(
      '> **Warning.** 1 of 2 point(s) have DMA faults or map errors (a map the page sizes cannot hold fails, and DMAs to it fault; an attach that fails leaves its device in its old domain, or none, where DMAs meant for the new one fault):',
    );
    expect(md).toContain('> | point | DMA faults | map errors | failed attaches |');
    expect(md).toContain('> | 4K 32x4 strict | 810 | 0 | 1 of 7 |');
    expect(await sweepHtml([ok, attach], ['t'])).toContain('<th>failed attaches</th>');
    // Without failed attaches, the warning is as it was.
    const maps = row({ pageSizes: '2M', entries: 64, ways: 4, faults: 5, mapErrors: 3 });
    const plain = sweepMarkdown([ok, maps], ['t']);
    expect(plain).toContain('(a map the page sizes cannot hold fails, and DMAs to it fault): their costs');
    expect(plain).toContain('> | point | DMA faults | map errors |\n');
  });

  it('a broken point has no rank across traces, and a configuration broken on some trace no mean rank: it comes after those that work on every trace', () => {
    // Its mean over the traces where it works put it first (1.0) above the only configuration that works on both.
    const rows = [
      row({ trace: 'a', pageSizes: '4K', entries: 64, ways: 4, cost: 2e6 }),
      row({ trace: 'a', pageSizes: '64K', entries: 64, ways: 4, cost: 0, faults: 1 }),
      row({ trace: 'b', pageSizes: '4K', entries: 64, ways: 4, cost: 2e6 }),
      row({ trace: 'b', pageSizes: '64K', entries: 64, ways: 4, cost: 1e6 }),
    ];
    const t = rankTable(rankAcrossTraces(rows, ['a', 'b']));
    expect(t.rows).toEqual([
      ['4K 64x4 strict', '2.00 ms (1)', '2.00 ms (2)', '1.5'],
      ['64K 64x4 strict', 'broken: faults or map errors', '1.00 ms (1)', 'n/a: broken on 1 of 2 traces'],
    ]);
  });

  it('configurations broken on some trace are ordered among themselves by the ranks they have (a huge offset lost them: all tied)', () => {
    const r = (trace: string, pageSizes: string, cost: number, faults = 0) => row({ trace, pageSizes, entries: 64, ways: 4, cost, faults });
    const rows = [r('a', 'P', 9e6, 1), r('a', 'Q', 9e6, 1), r('a', 'W', 1e6), r('b', 'P', 9e6), r('b', 'Q', 2e6), r('b', 'W', 1e6)];
    expect(rankTable(rankAcrossTraces(rows, ['a', 'b'])).rows.map((x) => x[0])).toEqual(['W 64x4 strict', 'Q 64x4 strict', 'P 64x4 strict']);
  });
});

describe('strict against lazy', () => {
  it('weighs the invalidation cost against the stale exposure of each mode', () => {
    const rows = [
      row({ pageSizes: '4K', entries: 64, ways: 4, mode: 'strict', inv: 3e6 }),
      row({ pageSizes: '4K', entries: 64, ways: 4, mode: 'lazy', inv: 1e4, stale: 1153, windowNs: 279_830 }),
    ];
    expect(tradeoff(rows)).toBe(
      'Lazy invalidation cuts the invalidation cost from 3.00 ms to 10.00 µs (−99.7%) (mean per point) with up to 1,153 stale hits and stale windows up to 279.83 µs; strict has no stale hits and no stale window.',
    );
  });

  it('a lazy point whose maps reused IOVAs still in the flush queue gets the note that Linux would not (largest, "up to" when they differ)', () => {
    const strict = row({ pageSizes: '4K', entries: 64, ways: 4, mode: 'strict', inv: 3e6 });
    const lazy = (reused: number) => row({ pageSizes: '4K', entries: 64, ways: 4, mode: 'lazy', inv: 1e4, stale: 1153, reused, maps: 3251 });
    const note =
      "2,139 of 3,251 successful maps reused an IOVA still waiting in the flush queue, which Linux's lazy mode never does (it frees an IOVA only after the flush): " +
      "the trace's IOVAs were allocated for another mode or flush queue (strict-mode reuse, or a smaller or shorter queue), so stale hits on those IOVAs (and the hit rate they add) would be misses under Linux.";
    expect(tradeoff([strict, lazy(2139), lazy(2139)])).toMatch(new RegExp(`no stale window\\. ${note.replace(/[().]/g, '\\$&')}$`));
    expect(tradeoff([strict, lazy(2139), lazy(7)])).toContain(' Up to 2,139 of 3,251 successful maps reused');
    // A lazy point with failed maps is broken: no comparison is made with it (the replay report's note counts successful maps).
    expect(tradeoff([strict, { ...lazy(2139), counts: { dma_faults: 0, map_errors: 51, map_ops: 3251 } }])).toBe(
      'No strict-against-lazy comparison: every lazy point has DMA faults or map errors, so its costs measure no working configuration; see the warning.',
    );
    expect(tradeoff([strict, lazy(0)])).not.toContain('flush queue');
    expect(tradeoff([strict, { ...lazy(0), reusedBeforeFlush: null }])).not.toContain('flush queue'); // a summary without the key
  });

  it('leaves broken points out of the means (a 64K point whose maps all failed cost 0 and halved the mean)', () => {
    const pt = (pageSizes: string, mode: string, inv: number, faults = 0) => row({ pageSizes, entries: 64, ways: 4, mode, inv, faults, mapErrors: faults });
    const text = tradeoff([pt('4K', 'strict', 3.05e6), pt('64K', 'strict', 0, 10), pt('4K', 'lazy', 11200), pt('64K', 'lazy', 0, 10)]);
    expect(text).toContain('from 3.05 ms to 11.20 µs (−99.6%) (mean per point without DMA faults or map errors)');
  });

  it("a whole mode broken: names the modes that are, and keeps the working lazy points' note", () => {
    const pt = (mode: string, broken: boolean, reused = 0) =>
      row({ pageSizes: '4K', entries: 64, ways: 4, mode, inv: 1e4, faults: broken ? 10 : 0, reused, maps: 1000 });
    expect(tradeoff([pt('strict', true), pt('lazy', true)])).toMatch(/^No strict-against-lazy comparison: every strict and every lazy point has DMA faults/);
    const onlyStrict = tradeoff([pt('strict', true), pt('lazy', false, 300)]);
    expect(onlyStrict).toMatch(/^No strict-against-lazy comparison: every strict point has DMA faults/);
    expect(onlyStrict).toContain(' 300 of 1,000 successful maps reused an IOVA still waiting in the flush queue');
    expect(tradeoff([pt('strict', false), pt('lazy', true)])).toMatch(/^No strict-against-lazy comparison: every lazy point has DMA faults/);
  });

  it('a lazy-only sweep still says that maps reused IOVAs still in the flush queue', () => {
    const lazy = row({ pageSizes: '4K', entries: 64, ways: 4, mode: 'lazy', inv: 1e4, stale: 1085, reused: 2139, maps: 3251 });
    expect(tradeoff([lazy])).toContain('add `--mode strict lazy`');
    expect(tradeoff([lazy])).toContain(' 2,139 of 3,251 successful maps reused an IOVA still waiting in the flush queue');
  });

  it('with one mode, says how to get the comparison', () => {
    expect(tradeoff(grid(() => 1))).toContain('add `--mode strict lazy`');
  });
});

describe('charts chosen by what varies', () => {
  it('a metric that is the same at every point is a line of text, not a chart', () => {
    const rows = grid(() => 5e6);
    const flat = flatLines(rows);
    expect(flat.translationCost).toBe('Translation cost is 5.00 ms at every point.');
    expect(flat.hitRate).toBe('IOTLB hit rate is 50.00% at every point.');
    expect(flat.pageMix).toBe('Every bitmap maps the same page sizes: 4K 100%.');
    expect(flat.tradeoff).toBeNull();
    const varied = flatLines(grid((b, e) => e * (b.length + 1)));
    expect(varied.translationCost).toBeNull();
    expect(varied.hitRate).toBeNull();
  });

  it('identical hit-rate lines are drawn once, labelled with every bitmap they stand for', () => {
    const rows = grid((b, e) => (b === '4K' ? 2e6 / e : 1e6 / e));
    const labels = [...new Set(hitRateSeries(rows).map((v) => v.series))];
    expect(labels).toEqual(['4K', '4K|2M = 4K|2M|1G']);
    expect(gridTable(rows, 'iotlbHitRate').rows.map((r) => r[0])).toEqual(['4K', '4K|2M = 4K|2M|1G']);
  });

  it('long bitmaps are labelled exactly but short: runs of three or more sizes as ranges (issue: a 35-size label overlapped the axis title)', async () => {
    expect(compactPageSizes(['4K', '8K', '16K', '32K', '1G'])).toBe('4K..32K+1G');
    expect(compactPageSizes(['4K', '2M', '1G'])).toBe('4K+2M+1G');
    expect(compactPageSizes(['4K', '8K', '2M', '4M', '8M'])).toBe('4K+8K+2M..8M');
    // The heatmap's y title sits above its labels, whatever their width.
    const heat = await translationCostChart(grid((b, e) => e * 1000 + b.length));
    expect(heat.svg).toMatch(/<g class="mark-text role-axis-title"[^>]*><text[^>]*text-anchor="end"[^>]*>page sizes<\/text>/);
  });

  it('the hit-rate chart has ticks at the sizes that were run and shows associativity', async () => {
    const rows = [...grid((b, e) => (b === '4K' ? 2e6 / e : 1e6 / e)), row({ pageSizes: '4K', entries: 64, ways: 64, hit: 0.9 })];
    const chart = await hitRateChart(rows);
    const ticks = [...chart.svg.matchAll(/<text[^>]*>(\d+)<\/text>/g)].map((m) => m[1]);
    for (const t of ['32', '64', '128', '256']) expect(ticks).toContain(t);
    expect(ticks).not.toContain('40');
    expect(chart.svg).toContain('associativity');
    expect(chart.svg).toContain('full');
    expect(chart.distinctValues).toBeGreaterThan(1);
  });

  it('the translation-cost heatmap and the page-size mix have one cell per bitmap and geometry, one bar per bitmap', async () => {
    const rows = grid((b, e) => e * 1000 + b.length).map((r) => ({ ...r, mapPages: r.pageSizes === '4K' ? { '4K': 512 } : { '4K': 0, '2M': 1 } }));
    const heat = await translationCostChart(rows);
    expect(heat.distinctValues).toBe(12);
    const mix = await pageMixChart(rows);
    expect(mix.distinctValues).toBe(3);
  });
});

describe('across traces', () => {
  it('ranks each configuration per trace by total cost, ties sharing a rank, with no percentile', () => {
    const rows = [...grid((_, e) => 1e6 / e).map((r) => ({ ...r, trace: 'a' })), ...grid((b) => b.length * 1e5).map((r) => ({ ...r, trace: 'b' }))];
    const t = rankAcrossTraces(rows, ['a', 'b']);
    const cell = (point: string, trace: number) => t.cells[t.points.indexOf(point)][trace]!;
    expect(cell('4K 256x8 strict', 0)).toMatchObject({ rank: 1, tied: true });
    // The cost first, the rank in brackets: no "=13. 13.60 ms".
    expect(rankTable(t).rows.find((r) => r[0] === '4K 256x8 strict')![1]).toBe('3.91 µs (=1)');
    expect(cell('4K 32x4 strict', 1)).toMatchObject({ rank: 1, tied: true, costNs: 2e5 });
    expect(cell('4K|2M|1G 32x4 strict', 1)).toMatchObject({ rank: 9, tied: true });
    const table = rankTable(t);
    expect(table.header).toEqual(['configuration', 'a', 'b', 'mean rank']);
    expect(table.rows[0][0]).toBe('4K 256x8 strict');
    const md = sweepMarkdown(rows, ['a', 'b']);
    expect(md).not.toMatch(/p95|median/);
    expect(md).toContain('## Across traces');
  });
});

describe('report.md and report.html carry the same findings', () => {
  it('every recommendation and trade-off sentence is in both', async () => {
    const rows = [
      ...grid((b, e) => (b === '4K' ? 4e6 - e * 1e4 : 1e6 + 1e8 / e)),
      ...grid((b, e) => 9e5 + e, 'lazy').map((r) => ({ ...r, metrics: { ...r.metrics, staleHits: 3, invalidationCostNs: 10 } })),
    ];
    const md = sweepMarkdown(rows, ['t']);
    const html = await sweepHtml(rows, ['t']);
    const sentences = [recommend(rows), tradeoff(rows)];
    const unescape = (s: string) =>
      s
        .replace(/&amp;/g, '&')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"');
    for (const s of sentences) {
      expect(md).toContain(s);
      expect(unescape(html)).toContain(s);
    }
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    for (const m of html.matchAll(/data-distinct="(\d+)"/g)) expect(Number(m[1])).toBeGreaterThan(1);
  });
});

describe('the replay report', () => {
  const ev: Ev[] = [
    { op: 'attach', device: 0x300, domain: 1 },
    { op: 'map', domain: 1, iova: 0, paddr: 0, size: 0x1000 },
    { op: 'dma_read', device: 0x300, iova: 0, size: 4 },
    { op: 'unmap', domain: 1, iova: 0, size: 0x1000 },
    { op: 'map', domain: 1, iova: 0, paddr: 0x5000, size: 0x1000 },
    { op: 'map', domain: 1, iova: 0, paddr: 0x9000, size: 0x1000 }, // EEXIST: a failed map, not among the note's maps
    { op: 'dma_read', device: 0x300, iova: 0, size: 4 },
  ];
  it('says in lazy mode how many of the successful maps reused an IOVA still in the flush queue, and that Linux would have missed', () => {
    const lazy = replayMarkdown(replayEvents(ev, { invalidation: { mode: 'lazy' } }));
    expect(lazy).toContain("> 1 of 2 successful maps reused an IOVA still waiting in the flush queue, which Linux's lazy mode never does");
    expect(replayMarkdown(replayEvents(ev))).not.toContain('flush queue');
  });

  it('writes the IOTLB geometry as --iotlb and the sweep labels write it, ENTRIESxWAYS, with its sets in words', () => {
    // It wrote SETSxWAYS: 'IOTLB 16x4 (64 entries, lru)' for the default 64x4, and
    // 'IOTLB 1x1024' for QEMU's 1024xfull (traces/qemu/qemu-vtd-strict.json), which
    // --iotlb reads as 16 entries of 4 ways and 1 entry.
    expect(replayMarkdown(replayEvents(ev))).toContain('IOTLB 64x4 (16 sets of 4 ways, lru)');
    const full = replayMarkdown(replayEvents(ev, { iotlb: { entries: 1024, ways: 'full', policy: 'flush-when-full' } }));
    expect(full).toContain('IOTLB 1024xfull (1 set of 1024 ways, flush-when-full)');
    expect(replayMarkdown(replayEvents(ev, { iotlb: { entries: 1, ways: 1 } }))).toContain('IOTLB 1x1 (1 set of 1 way, lru)');
  });

  it('names the walk cache and counts its hits when the configuration has one', () => {
    // A walk cache shortens walks (walks.walkCacheHits) and the report said nothing of it:
    // neither in the configuration line nor beside the walks it shortened.
    const cfg = { walkCache: { entries: 16, ways: 'full' } };
    // Two pages of one 2 MiB region: the second page's walk starts from the cached level-2 entry.
    // (The report's own events walk after a strict unmap emptied the walk cache: 0 hits, which any
    // counter that is 0 would have shown.)
    const twoPages: Ev[] = [
      { op: 'attach', device: 0x300, domain: 1 },
      { op: 'map', domain: 1, iova: 0, paddr: 0, size: 0x2000 },
      { op: 'dma_read', device: 0x300, iova: 0, size: 4 },
      { op: 'dma_read', device: 0x300, iova: 0x1000, size: 4 },
    ];
    const s = replayEvents(twoPages, cfg);
    expect(s.totals.walks).toMatchObject({ count: 2, walkCacheHits: 1 });
    const md = replayMarkdown(s);
    expect(md).toContain('walk cache 16xfull (1 set of 16 ways, lru) per non-leaf level');
    expect(md).toContain('| walk-cache hits | 1 |');
    expect(replayMarkdown(replayEvents(ev))).not.toContain('walk cache');
  });
});

describe('points that differ in more than the grid shows (a sweep of the walk cache, the policy, costs)', () => {
  // The grids took the first point per (page sizes, mode, geometry) and the recommendation named
  // only the geometry and page sizes: a walk-cache sweep recommended 32x4 at the 64-entry walk
  // cache's cost while the table showed the 1-entry one's.
  const q = (walk: number, policy = 'lru') => JSON.stringify({ iotlb: { entries: 32, policy }, walkCache: { entries: walk }, pageSizes: ['4K'] });
  const pts = (walks: number[]) =>
    withVariants(
      walks.flatMap((w, i) =>
        [16, 32].map((e) => ({
          ...row({ pageSizes: '4K', entries: e, ways: 4, cost: (e === 16 ? 2e6 : 1.1e6) - i * 1e5 }),
          point: `${e} wc${w}`,
          question: q(w),
          vendor: 'vtd',
        })),
      ),
    );

  it('withVariants names the fields that differ inside a cell, and nothing when no cell holds two points', () => {
    expect(pts([1, 64]).map((r) => r.variant)).toEqual(['walkCache.entries=1', 'walkCache.entries=1', 'walkCache.entries=64', 'walkCache.entries=64']);
    expect(pts([1]).map((r) => r.variant)).toEqual(['', '']);
    const policies = withVariants(['lru', 'fifo'].map((p) => ({ ...row({ pageSizes: '4K', entries: 16, ways: 4 }), question: q(1, p), vendor: 'vtd' })));
    expect(policies.map((r) => r.variant)).toEqual(['iotlb.policy=lru', 'iotlb.policy=fifo']);
  });

  it('each point has its own line in the grids, and the recommendation says which it is', () => {
    const rows = pts([1, 64]);
    const g = gridTable(rows, 'translationCostNs');
    expect(g.rows).toEqual([
      ['4K', 'strict walkCache.entries=1', '2.00 ms', '1.10 ms'],
      ['4K', 'strict walkCache.entries=64', '1.90 ms', '1.00 ms'],
    ]);
    expect(recommend(rows)).toMatch(
      /^A 32x4 IOTLB with page sizes 4K \(walkCache\.entries=64\) comes within 5% of the best translation cost, 1\.00 ms against 1\.00 ms, at 4K 32x4 \(walkCache\.entries=64\)/,
    );
  });

  it('the fewest page sizes are the sizes a point allows, not the pieces of its label (a preset, a range)', () => {
    const preset = row({ pageSizes: 'intel-vtd', entries: 32, ways: 4, cost: 1e6, sizes: 3 });
    const two = row({ pageSizes: '4K+2M', entries: 32, ways: 4, cost: 1.01e6 });
    expect(recommend([preset, two])).toMatch(/^A 32x4 IOTLB with page sizes 4K\+2M comes within/);
    const range = row({ pageSizes: '4K..32K', entries: 64, ways: 4, cost: 1e6, sizes: 4 });
    const pair = row({ pageSizes: '4K+8K', entries: 64, ways: 4, cost: 1.004e6 });
    expect(recommend([range, pair])).toMatch(/^A 64x4 IOTLB with page sizes 4K\+8K comes within/);
  });
});
