// The comparison of a sweep: a tidy table (one row per trace and point, one
// column per metric), its Arrow form for DuckDB/pandas/Polars, and the
// Markdown and HTML reports with winners and cross-trace statistics.
import * as A from 'apache-arrow';
import * as ss from 'simple-statistics';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { commandCount, type Summary } from '../stats/summary.js';
import { fmtInt, fmtNs, fmtNum, fmtPct, tableMd, type Table } from './format.js';

export interface Metric {
  key: string;
  label: string;
  /** Which way is better, for the winner of each metric. */
  better: 'max' | 'min';
  format: (v: number | null) => string;
  get: (s: Summary) => number | null;
}

export const METRICS: Metric[] = [
  { key: 'iotlbHitRate', label: 'IOTLB hit rate', better: 'max', format: (v) => fmtPct(v), get: (s) => s.totals.iotlb.hitRate },
  { key: 'iotlbMissesPerKiB', label: 'misses / KiB DMA', better: 'min', format: (v) => fmtNum(v), get: (s) => s.derived.iotlbMissesPerKiB },
  { key: 'walkAccesses', label: 'walk accesses', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.walks.memoryAccesses },
  { key: 'invalidationCommands', label: 'invalidation commands', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => commandCount(s.totals.invalidation.commands) },
  { key: 'invalidationCostNs', label: 'invalidation cost', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.costNs.invalidation },
  { key: 'translationCostNs', label: 'translation cost', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.costNs.translation },
  { key: 'staleHits', label: 'stale hits', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.iotlb.staleHits },
  { key: 'staleWindowMaxNs', label: 'stale window max', better: 'min', format: (v) => (v === null ? 'n/a' : fmtNs(v)), get: (s) => s.totals.invalidation.staleWindowMaxNs },
  { key: 'peakTablePages', label: 'peak table pages', better: 'min', format: (v) => (v === null ? 'n/a' : fmtInt(v)), get: (s) => s.totals.pageTable.peakTablePages },
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
  return {
    trace,
    point,
    pageSizes: s.config.pageSizes.join('|'),
    iotlbEntries: s.config.iotlb.entries,
    iotlbWays: s.config.iotlb.ways,
    policy: s.config.iotlb.policy,
    mode: s.config.invalidation.mode,
    metrics,
    mapPages: s.totals.map.pages,
    dmaEvents: s.totals.dma.events,
  };
}

/** Every page size some row mapped, smallest first. */
function sizeNames(rows: SweepRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r.mapPages)) if (v > 0 || names.has(k)) names.add(k);
  return [...names].sort((a, b) => parseSizeLog2(a)! - parseSizeLog2(b)!);
}

/** results.arrow: the tidy table as an Arrow IPC file. */
export function resultsArrow(rows: SweepRow[]): Uint8Array {
  const sizes = sizeNames(rows);
  const cols: Record<string, A.Vector> = {
    trace: A.vectorFromArray(rows.map((r) => r.trace), new A.Utf8()),
    point: A.vectorFromArray(rows.map((r) => r.point), new A.Utf8()),
    page_sizes: A.vectorFromArray(rows.map((r) => r.pageSizes), new A.Utf8()),
    iotlb_entries: A.vectorFromArray(rows.map((r) => r.iotlbEntries), new A.Int32()),
    iotlb_ways: A.vectorFromArray(rows.map((r) => r.iotlbWays), new A.Int32()),
    iotlb_policy: A.vectorFromArray(rows.map((r) => r.policy), new A.Utf8()),
    mode: A.vectorFromArray(rows.map((r) => r.mode), new A.Utf8()),
    dma_events: A.vectorFromArray(rows.map((r) => r.dmaEvents), new A.Float64()),
  };
  for (const m of METRICS) cols[snake(m.key)] = A.vectorFromArray(rows.map((r) => r.metrics[m.key]), new A.Float64());
  for (const s of sizes) cols[`map_pages_${s}`] = A.vectorFromArray(rows.map((r) => r.mapPages[s] ?? 0), new A.Float64());
  return A.tableToIPC(new A.Table(cols), 'file');
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/ki_b/, 'kib');
}

function winner(rows: SweepRow[], m: Metric): SweepRow | undefined {
  let best: SweepRow | undefined;
  for (const r of rows) {
    const v = r.metrics[m.key];
    if (v === null) continue;
    const b = best?.metrics[m.key];
    if (b === undefined || b === null || (m.better === 'max' ? v > b : v < b)) best = r;
  }
  return best;
}

export interface CrossStats {
  point: string;
  n: number;
  mean: number;
  median: number;
  p95: number;
  min: number;
  max: number;
  spread: number;
}

/** Per point, the spread of a metric across traces (simple-statistics). */
export function crossTrace(rows: SweepRow[], key: string): CrossStats[] {
  const byPoint = new Map<string, number[]>();
  for (const r of rows) {
    const v = r.metrics[key];
    if (v === null) continue;
    byPoint.set(r.point, [...(byPoint.get(r.point) ?? []), v]);
  }
  return [...byPoint].map(([point, xs]) => ({
    point,
    n: xs.length,
    mean: ss.mean(xs),
    median: ss.median(xs),
    p95: ss.quantile(xs, 0.95),
    min: ss.min(xs),
    max: ss.max(xs),
    spread: ss.max(xs) - ss.min(xs),
  }));
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

export function winnersTable(rows: SweepRow[]): Table {
  return {
    header: ['metric', 'best point', 'value'],
    rows: METRICS.map((m) => {
      const w = winner(rows, m);
      return [m.label, w ? w.point : 'n/a', w ? m.format(w.metrics[m.key]) : 'n/a'];
    }),
    alignRight: false,
  };
}

export function crossTable(rows: SweepRow[], key: string): Table {
  const m = METRICS.find((x) => x.key === key)!;
  return {
    header: ['point', 'traces', 'mean', 'median', 'p95', 'min', 'max', 'spread'],
    rows: crossTrace(rows, key).map((c) => [c.point, String(c.n), m.format(c.mean), m.format(c.median), m.format(c.p95), m.format(c.min), m.format(c.max), m.format(c.spread)]),
  };
}

export function sweepMarkdown(rows: SweepRow[], traces: string[], title = 'iommu-replay sweep'): string {
  const out: string[] = [`# ${title}`, ''];
  const points = [...new Set(rows.map((r) => r.point))];
  out.push(`${traces.length} trace(s) x ${points.length} configuration point(s). Rows: \`results.arrow\`; per-point summaries: \`summaries/\`.`, '');
  for (const t of traces) {
    const tr = rows.filter((r) => r.trace === t);
    out.push(`## ${t}`, '', tableMd(traceTable(tr)), '', '### Best point per metric', '', tableMd(winnersTable(tr)), '');
    if (tr.every((r) => r.dmaEvents === 0)) out.push('> This trace has no DMA events: hit rates need DMA events.', '');
  }
  if (traces.length > 1) {
    out.push('## Across traces', '');
    for (const key of ['iotlbHitRate', 'invalidationCostNs', 'walkAccesses']) {
      const m = METRICS.find((x) => x.key === key)!;
      out.push(`### ${m.label}`, '', tableMd(crossTable(rows, key)), '');
    }
  }
  return out.join('\n');
}
