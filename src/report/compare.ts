// The comparison of a sweep: a tidy table (one row per trace and point, one
// column per metric), its Arrow form for DuckDB/pandas/Polars, and the
// Markdown report (findings.ts decides what it says; html.ts renders the same).
import * as A from 'apache-arrow';
import * as ss from 'simple-statistics';
import type { ReplayConfig } from '../config/config.js';
import { formatPageSizeSet, parseSizeLog2 } from '../config/pagesizes.js';
import { SPEC_VERSION, toolVersion } from '../version.js';
import { stableStringify } from '../json.js';
import { commandCount, type Summary } from '../stats/summary.js';
import { bitmapOrder, geometryOf, geometryOrder, modesOf, pageMixRows, rankAcrossTraces, traceFindings, type ChartName, type RankTable, type TraceFindings } from './findings.js';
import { fmtInt, fmtNs, fmtNum, fmtPct, tableMd, type Table } from './format.js';

export interface Metric {
  key: string;
  label: string;
  /** Which way is better, for the winner of each metric. */
  better: 'max' | 'min';
  /** A count: an integer column in results.arrow (int64), not a float64. */
  integer?: boolean;
  format: (v: number | null) => string;
  get: (s: Summary) => number | null;
}

export const METRICS: Metric[] = [
  { key: 'iotlbHitRate', label: 'IOTLB hit rate', better: 'max', format: (v) => fmtPct(v), get: (s) => s.totals.iotlb.hitRate },
  { key: 'iotlbMissesPerKiB', label: 'misses / KiB DMA', better: 'min', format: (v) => fmtNum(v), get: (s) => s.derived.iotlbMissesPerKiB },
  { key: 'walkAccesses', integer: true, label: 'walk accesses', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.walks.memoryAccesses },
  { key: 'invalidationCommands', integer: true, label: 'invalidation commands', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => commandCount(s.totals.invalidation.commands) },
  { key: 'invalidationCostNs', label: 'invalidation cost', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.costNs.invalidation },
  { key: 'translationCostNs', label: 'translation cost', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.costNs.translation },
  { key: 'staleHits', integer: true, label: 'stale hits', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.iotlb.staleHits },
  { key: 'staleWindowMaxNs', integer: true, label: 'stale window max', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.invalidation.staleWindowMaxNs },
  { key: 'peakTablePages', integer: true, label: 'peak table pages', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.pageTable.peakTablePages },
];

export interface SweepRow {
  trace: string;
  point: string;
  pageSizes: string;
  iotlbEntries: number;
  iotlbWays: number;
  policy: string;
  mode: string;
  metrics: Record<string, number | null>;
  /** Pages mapped, by size name. */
  mapPages: Record<string, number>;
  dmaEvents: number;
}

export function rowOf(trace: string, point: string, s: Summary): SweepRow {
  const metrics: Record<string, number | null> = {};
  for (const m of METRICS) metrics[m.key] = m.get(s);
  // Page sizes smallest first, whatever order the summary's keys came in (a
  // summary read back from disk has them sorted as text): the reports and
  // charts follow this order, and must not depend on where a summary came from.
  const mapPages: Record<string, number> = {};
  for (const size of Object.keys(s.totals.map.pages).sort(bySize)) mapPages[size] = s.totals.map.pages[size];
  return {
    trace,
    point,
    pageSizes: formatPageSizeSet(s.config.pageSizes),
    iotlbEntries: s.config.iotlb.entries,
    iotlbWays: s.config.iotlb.ways,
    policy: s.config.iotlb.policy,
    mode: s.config.invalidation.mode,
    metrics,
    mapPages,
    dmaEvents: s.totals.dma.events,
  };
}

function bySize(a: string, b: string): number {
  return parseSizeLog2(a)! - parseSizeLog2(b)!;
}

/** Every page size some row mapped, smallest first. */
function sizeNames(rows: SweepRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r.mapPages)) if (v > 0 || names.has(k)) names.add(k);
  return [...names].sort(bySize);
}

/** A column of counts: int64, which pyarrow, pandas, Polars and DuckDB (BIGINT) read as integers. */
function int64Column(values: number[]): A.Vector {
  return A.makeVector(BigInt64Array.from(values, (v) => BigInt(v)));
}

/** Schema metadata keys of results.arrow (docs/report-keys.md, "results.arrow"). */
export const RESULTS_META = { toolVersion: 'iommu-replay.version', specVersion: 'iommu-replay.spec_version', points: 'iommu-replay.points' } as const;

/**
 * results.arrow: the tidy table as an Arrow IPC file. Counts are int64,
 * rates and costs float64 (null where undefined). The schema metadata names
 * the tool and spec versions and, as JSON, each point's label and resolved
 * configuration.
 */
export function resultsArrow(rows: SweepRow[], points: { label: string; config: ReplayConfig }[]): Uint8Array {
  const sizes = sizeNames(rows);
  const cols: Record<string, A.Vector> = {
    trace: A.vectorFromArray(rows.map((r) => r.trace), new A.Utf8()),
    point: A.vectorFromArray(rows.map((r) => r.point), new A.Utf8()),
    page_sizes: A.vectorFromArray(rows.map((r) => r.pageSizes), new A.Utf8()),
    iotlb_entries: A.vectorFromArray(rows.map((r) => r.iotlbEntries), new A.Int32()),
    iotlb_ways: A.vectorFromArray(rows.map((r) => r.iotlbWays), new A.Int32()),
    iotlb_policy: A.vectorFromArray(rows.map((r) => r.policy), new A.Utf8()),
    mode: A.vectorFromArray(rows.map((r) => r.mode), new A.Utf8()),
    dma_events: int64Column(rows.map((r) => r.dmaEvents)),
  };
  for (const m of METRICS)
    cols[snake(m.key)] = m.integer ? int64Column(rows.map((r) => r.metrics[m.key] ?? 0)) : A.vectorFromArray(rows.map((r) => r.metrics[m.key]), new A.Float64());
  for (const s of sizes) cols[`map_pages_${s}`] = int64Column(rows.map((r) => r.mapPages[s] ?? 0));
  const table = new A.Table(cols);
  const metadata = new Map([
    [RESULTS_META.toolVersion, toolVersion()],
    [RESULTS_META.specVersion, SPEC_VERSION],
    // Compact JSON with sorted keys: the same points give the same bytes.
    [RESULTS_META.points, JSON.stringify(JSON.parse(stableStringify(points.map((p) => ({ label: p.label, config: p.config })), 0)))],
  ]);
  const withMeta = new A.Table(new A.Schema(table.schema.fields, metadata), table.batches.map((b) => new A.RecordBatch(new A.Schema(table.schema.fields, metadata), b.data)));
  return A.tableToIPC(withMeta, 'file');
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/ki_b/, 'kib');
}

export function traceTable(rows: SweepRow[]): Table {
  const sizes = sizeNames(rows);
  return {
    header: ['point', ...METRICS.map((m) => m.label), 'pages mapped'],
    rows: rows.map((r) => [
      r.point,
      ...METRICS.map((m) => m.format(r.metrics[m.key])),
      sizes.map((s) => `${s}: ${fmtInt(r.mapPages[s] ?? 0)}`).join(', '),
    ]),
  };
}

/**
 * A metric laid out as page-size bitmap (and mode) x IOTLB geometry. Bitmaps
 * whose rows are identical share one row, `4K = 4K+2M`, as the chart's lines do.
 */
export function gridTable(rows: SweepRow[], key: string): Table {
  const m = METRICS.find((x) => x.key === key)!;
  const geoms = geometryOrder(rows);
  const modes = modesOf(rows);
  const merged = new Map<string, { bitmaps: string[]; mode: string; cells: string[] }>();
  for (const mode of modes) {
    for (const b of bitmapOrder(rows)) {
      const cells = geoms.map((g) => {
        const r = rows.find((x) => x.pageSizes === b && x.mode === mode && geometryOf(x) === g);
        return r ? m.format(r.metrics[key]) : '';
      });
      const k = `${mode}\0${cells.join('\0')}`;
      const line = merged.get(k);
      if (line) line.bitmaps.push(b);
      else merged.set(k, { bitmaps: [b], mode, cells });
    }
  }
  return {
    header: ['page sizes', ...(modes.length > 1 ? ['mode'] : []), ...geoms],
    rows: [...merged.values()].map((l) => [l.bitmaps.join(' = '), ...(modes.length > 1 ? [l.mode] : []), ...l.cells]),
  };
}

export function pageMixTable(rows: SweepRow[]): Table {
  return { header: ['page sizes allowed', 'share of bytes mapped'], rows: pageMixRows(rows).map((m) => [m.pageSizes, m.mix || 'nothing mapped']), alignRight: false };
}

/** Rank (1 = cheapest total cost; `=` marks a tie) and cost per trace, with the mean rank, best first. */
export function rankTable(t: RankTable): Table {
  const meanRank = (i: number) => ss.mean(t.cells[i].filter((c) => c !== null).map((c) => c!.rank));
  const order = t.points.map((_, i) => i).sort((a, b) => meanRank(a) - meanRank(b) || a - b);
  return {
    header: ['configuration', ...t.traces, 'mean rank'],
    rows: order.map((i) => [t.points[i], ...t.cells[i].map((c) => (c ? `${c.tied ? '=' : ''}${c.rank}. ${fmtNs(c.costNs)}` : '')), meanRank(i).toFixed(1)]),
  };
}

/** The findings of every trace, in trace order. */
export function sweepFindings(rows: SweepRow[], traces: string[]): TraceFindings[] {
  return traces.map((t) => traceFindings(rows.filter((r) => r.trace === t), t));
}

const CHART_TITLES: Record<ChartName, string> = {
  hitRate: 'IOTLB hit rate',
  translationCost: 'Translation cost',
  tradeoff: 'Strict against lazy',
  pageMix: 'Page-size mix by bytes mapped',
};
export { CHART_TITLES };

export function sweepMarkdown(rows: SweepRow[], traces: string[], title = 'iommu-replay sweep'): string {
  const out: string[] = [`# ${title}`, ''];
  const points = [...new Set(rows.map((r) => r.point))];
  out.push(`${traces.length} trace(s) x ${points.length} configuration point(s). Rows: \`results.arrow\`; per-point summaries: \`summaries/\`.`, '');
  const findings = sweepFindings(rows, traces);
  out.push('## At a glance', '', ...findings.map((f) => `- **${f.trace}**: ${f.recommendation}`), '');
  for (const f of findings) {
    const tr = rows.filter((r) => r.trace === f.trace);
    out.push(`## ${f.trace}`, '', `**Recommendation.** ${f.recommendation}`, '', `**Strict against lazy.** ${f.tradeoff}`, '');
    if (tr.every((r) => r.dmaEvents === 0)) out.push('> This trace has no DMA events: hit rates need DMA events.', '');
    out.push(`### ${CHART_TITLES.hitRate}`, '', f.flat.hitRate ?? tableMd(gridTable(tr, 'iotlbHitRate')), '');
    out.push(`### ${CHART_TITLES.translationCost}`, '', f.flat.translationCost ?? tableMd(gridTable(tr, 'translationCostNs')), '');
    out.push(`### ${CHART_TITLES.pageMix}`, '', f.flat.pageMix ?? tableMd(pageMixTable(tr)), '');
    out.push('### All points', '', tableMd(traceTable(tr)), '');
  }
  if (traces.length > 1) {
    out.push('## Across traces', '', 'Rank of each configuration by total cost (translation + invalidation) on each trace; 1 is the cheapest, `=` a tie.', '');
    out.push(tableMd(rankTable(rankAcrossTraces(rows, traces))), '');
  }
  return out.join('\n');
}
