// The comparison of a sweep: a tidy table (one row per trace and point, one
// column per metric), its Arrow form for DuckDB/pandas/Polars, and the
// Markdown report (findings.ts decides what it says; html.ts renders the same).
import { A } from './arrow.js';
import * as ss from 'simple-statistics';
import type { ReplayConfig } from '../config/config.js';
import { formatPageSizeSet, formatSizeLog2, parseSizeLog2 } from '../config/pagesizes.js';
import { findPreset } from '../config/presets.js';
import { SPEC_VERSION, toolVersion } from '../version.js';
import { stableStringify } from '../json.js';
import { COMMAND_NAMES, commandCount, commandsByNameInOrder, peakTableBytes, tablePageBytes, type Summary } from '../stats/summary.js';
import {
  VENDOR_TITLES,
  bitmapOrder,
  brokenCounts,
  geometryOf,
  geometryOrder,
  modeGroup,
  modeGroupsOf,
  pageMixRows,
  rankAcrossTraces,
  traceFindings,
  vendorsOf,
  type BrokenPoint,
  type ChartName,
  type RankTable,
  type TraceFindings,
} from './findings.js';
import { fmtBytes, fmtInt, fmtNs, fmtNum, fmtPct, mdText, tableMd, type Table } from './format.js';

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

/** A metric's format for a value that may be missing (a ratio of nothing, a key an older summary lacks). */
const orNa =
  (fmt: (v: number) => string) =>
  (v: number | null): string =>
    v === null ? 'n/a' : fmt(v);

export const METRICS: Metric[] = [
  { key: 'iotlbHitRate', label: 'IOTLB hit rate', better: 'max', format: (v) => fmtPct(v), get: (s) => s.totals.iotlb.hitRate },
  { key: 'iotlbMissesPerKiB', label: 'misses / KiB DMA', better: 'min', format: (v) => fmtNum(v), get: (s) => s.derived.iotlbMissesPerKiB },
  {
    key: 'walkAccesses',
    integer: true,
    label: 'walk accesses',
    better: 'min',
    format: orNa(fmtInt),
    get: (s) => s.totals.walks.memoryAccesses,
  },
  {
    key: 'invalidationCommands',
    integer: true,
    label: 'invalidation commands',
    better: 'min',
    format: orNa(fmtInt),
    get: (s) => commandCount(s.totals.invalidation.commands),
  },
  {
    key: 'invalidationCostNs',
    label: 'invalidation cost',
    better: 'min',
    format: orNa(fmtNs),
    get: (s) => s.totals.costNs.invalidation,
  },
  {
    key: 'translationCostNs',
    label: 'translation cost',
    better: 'min',
    format: orNa(fmtNs),
    get: (s) => s.totals.costNs.translation,
  },
  {
    key: 'staleHits',
    integer: true,
    label: 'stale hits',
    better: 'min',
    format: orNa(fmtInt),
    get: (s) => s.totals.iotlb.staleHits,
  },
  {
    key: 'staleWindowMaxNs',
    integer: true,
    label: 'stale window max',
    better: 'min',
    format: orNa(fmtNs),
    get: (s) => s.totals.invalidation.staleWindowMaxNs,
  },
  {
    key: 'peakTablePages',
    integer: true,
    label: 'peak table pages',
    better: 'min',
    format: orNa(fmtInt),
    get: (s) => s.totals.pageTable.peakTablePages,
  },
];

/**
 * A point's raw counts: results.arrow's int64 columns besides the metrics
 * (docs/report-keys.md), the sums from which rates can be re-weighted across
 * traces.
 */
export const COUNTS: { column: string; get: (s: Summary) => number }[] = [
  { column: 'dma_bytes', get: (s) => s.totals.dma.bytes },
  { column: 'dma_faults', get: (s) => s.totals.dma.faults },
  { column: 'dma_passthrough', get: (s) => s.totals.dma.passthrough },
  { column: 'iotlb_lookups', get: (s) => s.totals.iotlb.lookups },
  { column: 'iotlb_hits', get: (s) => s.totals.iotlb.hits },
  { column: 'iotlb_misses', get: (s) => s.totals.iotlb.misses },
  { column: 'iotlb_invalidated_misses', get: (s) => s.totals.iotlb.invalidatedMisses },
  { column: 'devtlb_lookups', get: (s) => s.totals.devtlb.lookups },
  { column: 'devtlb_hits', get: (s) => s.totals.devtlb.hits },
  { column: 'walks', get: (s) => s.totals.walks.count },
  { column: 'walk_cache_hits', get: (s) => s.totals.walks.walkCacheHits },
  { column: 'map_ops', get: (s) => s.totals.map.ops },
  { column: 'map_errors', get: (s) => s.totals.map.errors },
  { column: 'map_bytes', get: (s) => s.totals.map.bytes },
  { column: 'unmap_ops', get: (s) => s.totals.unmap.ops },
  { column: 'unmap_errors', get: (s) => s.totals.unmap.errors },
  { column: 'unmap_short', get: (s) => s.totals.unmap.short },
  { column: 'unmap_bytes', get: (s) => s.totals.unmap.bytes },
  { column: 'attach_ops', get: (s) => s.totals.attach.ops },
  { column: 'attach_errors', get: (s) => s.totals.attach.errors },
  { column: 'invalidation_syncs', get: (s) => s.totals.invalidation.syncs },
  { column: 'invalidation_page_commands', get: (s) => s.totals.invalidation.commands.page },
  { column: 'invalidation_domain_commands', get: (s) => s.totals.invalidation.commands.domain },
  { column: 'invalidation_devtlb_commands', get: (s) => s.totals.invalidation.commands.devtlb },
  { column: 'invalidation_wait_commands', get: (s) => s.totals.invalidation.commands.wait },
  { column: 'invalidation_flushes', get: (s) => s.totals.invalidation.flushes },
  { column: 'invalidation_entries_removed', get: (s) => s.totals.invalidation.entriesRemoved },
  { column: 'nested_walks', get: (s) => s.totals.nested.walks },
  { column: 'nested_s1_faults', get: (s) => s.totals.nested.s1Faults },
  { column: 'nested_s2_faults', get: (s) => s.totals.nested.s2Faults },
  // Table pages are 4 KiB or the granule (model §9.2): bytes compare across vendors and granules, pages do not.
  { column: 'peak_table_bytes', get: peakTableBytes },
];

export interface SweepRow {
  trace: string;
  point: string;
  /**
   * The page sizes as the reports label them: the preset's name when the
   * point's page sizes are its preset's (`amd-v1`, not its 35 sizes), else
   * the set, `4K+2M` (results.arrow's page_sizes is always the set).
   */
  pageSizes: string;
  iotlbEntries: number;
  iotlbWays: number;
  policy: string;
  mode: string;
  /** Whose rules (model §9). */
  vendor: string;
  /**
   * The point's resolved configuration but its vendor and name, as stable
   * JSON: points that ask the same question under different vendors share it.
   */
  question: string;
  /** Bytes of a page-table page: 4 KiB, or the granule under smmuv3 (model §9.2). */
  tablePageBytes: number;
  /** `invalidation.commands.byName`: the vendor's own names (model §9.3). */
  commandsByName: Record<string, number>;
  metrics: Record<string, number | null>;
  /** Pages mapped, by size name. */
  mapPages: Record<string, number>;
  dmaEvents: number;
  /** COUNTS by column name. */
  counts: Record<string, number>;
  /** How many page sizes the point allows (its configuration's set, not its label's pieces: `intel-vtd` is 3, `4K..32K` is 4). */
  pageSizeCount: number;
  /**
   * What else tells this point from the others that share its trace, page
   * sizes, IOTLB geometry, mode and vendor (`walkCache.entries=64
   * iotlb.policy=fifo`; withVariants), so that the grids, charts and words
   * never show one of them for all; '' when nothing else varies.
   */
  variant: string;
  /** Lazy mode: maps that reused an IOVA still in the flush queue (`invalidation.reusedBeforeFlush.maps`); null when the summary has no such key (strict). */
  reusedBeforeFlush: number | null;
  /** The same maps' pages (`invalidation.reusedBeforeFlush.pages`); null in strict mode. */
  reusedBeforeFlushPages: number | null;
}

/**
 * The label of a configuration's page sizes in the reports: its preset's name
 * when they are the preset's, else the set with every run of three or more
 * consecutive powers of two written as a range, `4K..128M+1G`: as exact as
 * the full list, short enough for an axis or a legend.
 */
export function pageSizesLabel(config: ReplayConfig): string {
  const preset = config.preset === undefined ? undefined : findPreset(config.preset);
  if (preset && preset.pageSizeLog2s(config.pageTable.levels).map(formatSizeLog2).join('+') === config.pageSizes.join('+')) return preset.name;
  return compactPageSizes(config.pageSizes);
}

/** `4K+8K+16K+32K+1G` as `4K..32K+1G`; sizes ascending, as a resolved configuration has them. */
export function compactPageSizes(sizes: readonly string[]): string {
  const log2s = sizes.map((s) => parseSizeLog2(s));
  if (log2s.some((l) => l === undefined)) return formatPageSizeSet(sizes);
  const parts: string[] = [];
  for (let i = 0; i < sizes.length;) {
    let j = i;
    while (j + 1 < sizes.length && log2s[j + 1]! === log2s[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${sizes[i]}..${sizes[j]}`);
    else parts.push(...sizes.slice(i, j + 1));
    i = j + 1;
  }
  return formatPageSizeSet(parts);
}

export function rowOf(trace: string, point: string, s: Summary): SweepRow {
  const metrics: Record<string, number | null> = {};
  for (const m of METRICS) metrics[m.key] = m.get(s);
  // Page sizes smallest first, whatever order the summary's keys came in (a
  // summary read back from disk has them sorted as text): the reports and
  // charts follow this order, and must not depend on where a summary came from.
  const mapPages: Record<string, number> = {};
  for (const size of Object.keys(s.totals.map.pages).sort(bySize)) mapPages[size] = s.totals.map.pages[size];
  const vendor = s.config.vendor ?? 'vtd'; // a summary written before vendors existed was VT-d's
  const { name: _name, vendor: _vendor, ...question } = s.config;
  return {
    trace,
    point,
    pageSizes: pageSizesLabel(s.config),
    pageSizeCount: s.config.pageSizes.length,
    variant: '',
    iotlbEntries: s.config.iotlb.entries,
    iotlbWays: s.config.iotlb.ways,
    policy: s.config.iotlb.policy,
    mode: s.config.invalidation.mode,
    vendor,
    question: stableStringify(question, 0),
    tablePageBytes: tablePageBytes(s.config),
    commandsByName: s.totals.invalidation.commands.byName ?? COMMAND_NAMES[vendor](s.totals.invalidation.commands),
    metrics,
    mapPages,
    dmaEvents: s.totals.dma.events,
    counts: Object.fromEntries(COUNTS.map((c) => [c.column, c.get(s)])),
    reusedBeforeFlush: s.totals.invalidation.reusedBeforeFlush?.maps ?? null,
    reusedBeforeFlushPages: s.totals.invalidation.reusedBeforeFlush?.pages ?? null,
  };
}

/** A resolved configuration's leaves as `path=value` (arrays and nulls as JSON). */
function flatConfig(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value))
    for (const [k, v] of Object.entries(value)) flatConfig(v, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, typeof value === 'string' ? value : JSON.stringify(value));
  return out;
}

/**
 * Rows with their `variant`: the configuration fields that differ between
 * points the reports would otherwise put in one cell (same trace, page
 * sizes, IOTLB geometry, mode and vendor: a sweep of the walk cache, the
 * IOTLB policy, costs or flush-queue settings), written `path=value`. The
 * grids, charts and recommendation then tell those points apart. Fields that
 * differ only between points in different cells (a granule's table levels)
 * are not named. Nothing varies in most sweeps: every variant is ''.
 */
export function withVariants(rows: SweepRow[]): SweepRow[] {
  const flat = rows.map((r) => flatConfig(JSON.parse(r.question), '', new Map()));
  const cells = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = `${r.trace}\0${r.pageSizes}\0${r.iotlbEntries}x${r.iotlbWays}\0${r.mode}\0${r.vendor}`;
    cells.set(k, [...(cells.get(k) ?? []), i]);
  });
  const paths = new Set<string>();
  for (const ids of cells.values()) {
    if (ids.length < 2) continue;
    const keys = new Set(ids.flatMap((i) => [...flat[i].keys()]));
    for (const k of keys) if (new Set(ids.map((i) => flat[i].get(k) ?? 'none')).size > 1) paths.add(k);
  }
  if (!paths.size) return rows;
  const ordered = [...paths].sort();
  return rows.map((r, i) => ({ ...r, variant: ordered.map((k) => `${k}=${flat[i].get(k) ?? 'none'}`).join(' ') }));
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

/** An int64 column with nulls (a count a mode does not have). */
function nullableInt64Column(values: (number | null)[]): A.Vector {
  return A.vectorFromArray(
    values.map((v) => (v === null ? null : BigInt(v))),
    new A.Int64(),
  );
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
  const configOf = new Map(points.map((p) => [p.label, p.config]));
  const configs = rows.map((r) => {
    const c = configOf.get(r.point);
    if (!c) throw new Error(`results.arrow: no configuration for point ${r.point}`);
    return c;
  });
  const utf8 = (f: (c: ReplayConfig) => string | null) => A.vectorFromArray(configs.map(f), new A.Utf8());
  const int32 = (f: (c: ReplayConfig) => number | null) => A.vectorFromArray(configs.map(f), new A.Int32());
  const float64 = (f: (c: ReplayConfig) => number | null) => A.vectorFromArray(configs.map(f), new A.Float64());
  const bool = (f: (c: ReplayConfig) => boolean) => A.vectorFromArray(configs.map(f), new A.Bool());
  const cols: Record<string, A.Vector> = {
    trace: A.vectorFromArray(
      rows.map((r) => r.trace),
      new A.Utf8(),
    ),
    point: A.vectorFromArray(
      rows.map((r) => r.point),
      new A.Utf8(),
    ),
    // The configuration, flat (docs/report-keys.md); the point's whole
    // resolved configuration is in the schema metadata.
    page_sizes: utf8((c) => formatPageSizeSet(c.pageSizes)),
    iotlb_entries: int32((c) => c.iotlb.entries),
    iotlb_ways: int32((c) => c.iotlb.ways),
    iotlb_policy: utf8((c) => c.iotlb.policy),
    mode: utf8((c) => c.invalidation.mode),
    vendor: utf8((c) => c.vendor),
    preset: utf8((c) => c.preset ?? null),
    iotlb_sets: int32((c) => c.iotlb.sets),
    devtlb_entries: int32((c) => c.devtlb.entries),
    devtlb_ways: int32((c) => c.devtlb.ways),
    devtlb_policy: utf8((c) => c.devtlb.policy),
    walk_cache_entries: int32((c) => c.walkCache?.entries ?? null),
    walk_cache_ways: int32((c) => c.walkCache?.ways ?? null),
    walk_cache_policy: utf8((c) => c.walkCache?.policy ?? null),
    page_table_levels: int32((c) => c.pageTable.levels),
    partial_unmap: utf8((c) => c.partialUnmap),
    sva_page_sizes: utf8((c) => formatPageSizeSet(c.svaPageSizes)),
    max_invalidation_mask: int32((c) => c.invalidation.maxInvalidationMask),
    fq_size: int64Column(configs.map((c) => c.invalidation.fqSize)),
    fq_timeout_ns: float64((c) => c.invalidation.fqTimeoutNs),
    domain_ids: int32((c) => c.domainIds),
    seed: int64Column(configs.map((c) => c.seed)),
    cost_iotlb_hit_ns: float64((c) => c.costs.iotlbHit),
    cost_walk_access_ns: float64((c) => c.costs.walkAccess),
    cost_page_invalidation_ns: float64((c) => c.costs.pageInvalidation),
    cost_domain_invalidation_ns: float64((c) => c.costs.domainInvalidation),
    cost_devtlb_invalidation_ns: float64((c) => c.costs.devtlbInvalidation),
    cost_wait_ns: float64((c) => c.costs.wait),
    // The vendors' own options (model §9.4): a sweep over them is told apart by these, not only by its label.
    amd_np_cache: bool((c) => c.amd.npCache),
    smmu_range_invalidation: bool((c) => c.smmu.rangeInvalidation),
    smmu_force_sync_erratum: bool((c) => c.smmu.forceSyncErratum),
    smmu_asid_bits: int32((c) => c.smmu.asidBits),
    dma_events: int64Column(rows.map((r) => r.dmaEvents)),
  };
  for (const m of METRICS)
    cols[snake(m.key)] = m.integer
      ? int64Column(rows.map((r) => r.metrics[m.key] ?? 0))
      : A.vectorFromArray(
          rows.map((r) => r.metrics[m.key]),
          new A.Float64(),
        );
  for (const s of sizes) cols[`map_pages_${s}`] = int64Column(rows.map((r) => r.mapPages[s] ?? 0));
  for (const c of COUNTS) cols[c.column] = int64Column(rows.map((r) => r.counts[c.column]));
  // Lazy mode's maps of an IOVA still in the flush queue (model §5); null for strict points.
  cols.reused_before_flush_maps = nullableInt64Column(rows.map((r) => r.reusedBeforeFlush));
  cols.reused_before_flush_pages = nullableInt64Column(rows.map((r) => r.reusedBeforeFlushPages));
  const table = new A.Table(cols);
  const metadata = new Map([
    [RESULTS_META.toolVersion, toolVersion()],
    [RESULTS_META.specVersion, SPEC_VERSION],
    // Compact JSON with sorted keys: the same points give the same bytes.
    [
      RESULTS_META.points,
      JSON.stringify(
        JSON.parse(
          stableStringify(
            points.map((p) => ({ label: p.label, config: p.config })),
            0,
          ),
        ),
      ),
    ],
  ]);
  const withMeta = new A.Table(
    new A.Schema(table.schema.fields, metadata),
    table.batches.map((b) => new A.RecordBatch(new A.Schema(table.schema.fields, metadata), b.data)),
  );
  return A.tableToIPC(withMeta, 'file');
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/ki_b/, 'kib');
}

/** Whether rows' page-table pages differ in size (4 KiB against a 16 or 64 KiB granule, model §9.2): then only bytes compare. */
function mixedTablePages(rows: SweepRow[]): boolean {
  return new Set(rows.map((r) => r.tablePageBytes)).size > 1;
}

/** `24.0 KiB (6 × 4.0 KiB)`: a point's peak page-table memory and the pages it is made of. */
function tableMemory(r: SweepRow): string {
  return `${fmtBytes(r.counts.peak_table_bytes)} (${fmtInt(r.metrics.peakTablePages ?? 0)} × ${fmtBytes(r.tablePageBytes)})`;
}

/**
 * Every point of a trace; DMA faults and map errors as columns when some
 * point has them; and when the points' table pages differ in size, each
 * count of pages with its page size and a column of bytes beside it.
 */
export function traceTable(rows: SweepRow[]): Table {
  const sizes = sizeNames(rows);
  const broken = rows.some((r) => brokenCounts(r) !== null);
  const mixed = mixedTablePages(rows);
  const pagesAt = METRICS.findIndex((m) => m.key === 'peakTablePages');
  const labels = METRICS.map((m) => m.label);
  if (mixed) labels.splice(pagesAt + 1, 0, 'peak table memory');
  return {
    header: ['point', ...(broken ? ['DMA faults', 'map errors'] : []), ...labels, 'pages mapped'],
    rows: rows.map((r) => {
      const cells = METRICS.map((m) => m.format(r.metrics[m.key]));
      if (mixed) {
        cells[pagesAt] += ` × ${fmtBytes(r.tablePageBytes)}`;
        cells.splice(pagesAt + 1, 0, fmtBytes(r.counts.peak_table_bytes));
      }
      return [
        r.point,
        ...(broken ? [fmtInt(r.counts.dma_faults ?? 0), fmtInt(r.counts.map_errors ?? 0)] : []),
        ...cells,
        sizes.map((s) => `${s}: ${fmtInt(r.mapPages[s] ?? 0)}`).join(', '),
      ];
    }),
  };
}

/** What the table of vendors shows (Markdown; html.ts renders the same words). */
export const VENDOR_INTRO_MD =
  "The same configuration under each vendor's rules (docs/model.md §9), one row per vendor: page walks with their memory accesses per walk, invalidation commands by the vendor's own names, syncs, invalidation cost, and peak page-table memory in bytes (table pages are 4 KiB, or the granule under smmuv3).";

/** What a trace's per-vendor recommendation says first (Markdown; html.ts renders the same words). */
export const PER_VENDOR_INTRO_MD =
  "Each vendor's pick is made among its own points only: a bitmap measured under one IOMMU's rules is no answer for another's.";

/**
 * A sweep over vendors side by side (model §9): the points of a trace with
 * the same configuration but the vendor in adjacent rows, in sweep order,
 * with what the vendors change; invalidation cost also against VT-d's for
 * the same configuration when VT-d ran.
 */
export function vendorTable(rows: SweepRow[]): Table {
  const vendors = vendorsOf(rows);
  const questions = [...new Set(rows.map((r) => r.question))];
  const vtd = vendors.includes('vtd');
  const ordered = [...rows].sort(
    (a, b) => questions.indexOf(a.question) - questions.indexOf(b.question) || vendors.indexOf(a.vendor) - vendors.indexOf(b.vendor),
  );
  const against = (r: SweepRow): string => {
    if (r.vendor === 'vtd') return '';
    const base = rows.find((x) => x.vendor === 'vtd' && x.question === r.question);
    const [c, b] = [r.metrics.invalidationCostNs, base?.metrics.invalidationCostNs];
    if (c === null || b === null || b === undefined) return '';
    if (b === 0) return c === 0 ? '=' : 'n/a';
    const p = (c / b - 1) * 100;
    return p === 0 ? '=' : `${p < 0 ? '−' : '+'}${Math.abs(p).toFixed(1)}%`;
  };
  return {
    header: [
      'point',
      'vendor',
      'IOTLB hit rate',
      'walks (accesses per walk)',
      'invalidation commands',
      'syncs',
      'invalidation cost',
      ...(vtd ? ['against VT-d'] : []),
      'peak table memory',
    ],
    rows: ordered.map((r) => {
      const walks = r.counts.walks ?? 0;
      const commands = commandsByNameInOrder(r.vendor, r.commandsByName)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `${fmtInt(n)} ${name}`);
      return [
        `${r.point}${brokenCounts(r) ? ' (broken)' : ''}`,
        `${r.vendor} (${VENDOR_TITLES[r.vendor] ?? r.vendor})`,
        fmtPct(r.metrics.iotlbHitRate),
        `${fmtInt(walks)} (${walks === 0 ? 'n/a' : ((r.metrics.walkAccesses ?? 0) / walks).toFixed(2)})`,
        commands.join(', ') || 'none',
        fmtInt(r.counts.invalidation_syncs ?? 0),
        fmtNs(r.metrics.invalidationCostNs ?? 0),
        ...(vtd ? [against(r)] : []),
        tableMemory(r),
      ];
    }),
  };
}

/** The broken points of a trace with their counts (findings.ts, brokenWarning); their failed attaches when one has some. */
export function brokenTable(points: BrokenPoint[]): Table {
  const attach = points.some((p) => p.attachErrors > 0);
  return {
    header: ['point', 'DMA faults', 'map errors', ...(attach ? ['failed attaches'] : [])],
    rows: points.map((p) => [p.point, fmtInt(p.dmaFaults), fmtInt(p.mapErrors), ...(attach ? [`${fmtInt(p.attachErrors)} of ${fmtInt(p.attaches)}`] : [])]),
  };
}

/**
 * A metric laid out as page-size bitmap (and mode, with the vendor when not VT-d) x IOTLB geometry. Bitmaps
 * whose rows are identical share one row, `4K = 4K+2M`, as the chart's lines do.
 */
export function gridTable(rows: SweepRow[], key: string): Table {
  const m = METRICS.find((x) => x.key === key)!;
  const geoms = geometryOrder(rows);
  const modes = modeGroupsOf(rows);
  const merged = new Map<string, { bitmaps: string[]; mode: string; cells: string[] }>();
  for (const mode of modes) {
    for (const b of bitmapOrder(rows)) {
      const cells = geoms.map((g) => {
        const r = rows.find((x) => x.pageSizes === b && modeGroup(x) === mode && geometryOf(x) === g);
        return r ? `${m.format(r.metrics[key])}${brokenCounts(r) ? ' (broken)' : ''}` : '';
      });
      // No point of this bitmap in this group (presets of different vendors: amd-v1 never runs under smmuv3).
      if (cells.every((c) => c === '')) continue;
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
  return {
    header: ['page sizes allowed', 'share of bytes mapped'],
    rows: pageMixRows(rows).map((m) => [m.pageSizes, m.mix || 'nothing mapped']),
    alignRight: false,
  };
}

/**
 * Cost and rank per trace (1 = cheapest total cost; `=` marks a tie), as
 * `13.60 ms (=13)`: the cost first, so that a rank's number never runs into
 * the cost's digits. A broken point has no rank. Rows by mean rank, best
 * first; a point broken on every trace last.
 */
export function rankTable(t: RankTable): Table {
  const ranks = (i: number) => t.cells[i].flatMap((c) => (c !== null && c.rank !== null ? [c.rank] : []));
  const brokenOn = (i: number) => t.cells[i].filter((c) => c !== null && c.rank === null).length;
  // A point broken on some trace has no mean rank: the mean of its other
  // ranks would put first a configuration that does not work everywhere. It
  // comes after every point that works on each trace it ran on.
  const meanRank = (i: number): number | null => (brokenOn(i) === 0 && ranks(i).length ? ss.mean(ranks(i)) : null);
  // Working everywhere first, then broken somewhere, then broken everywhere; within each, by the mean of the ranks it has.
  const tier = (i: number) => (meanRank(i) !== null ? 0 : ranks(i).length ? 1 : 2);
  const mean = (i: number) => (ranks(i).length ? ss.mean(ranks(i)) : 0);
  const order = t.points.map((_, i) => i).sort((a, b) => tier(a) - tier(b) || mean(a) - mean(b) || a - b);
  const ran = (i: number) => t.cells[i].filter((c) => c !== null).length;
  return {
    header: ['configuration', ...t.traces, 'mean rank'],
    rows: order.map((i) => [
      t.points[i],
      ...t.cells[i].map((c) => (c === null ? '' : c.rank === null ? 'broken: faults or map errors' : `${fmtNs(c.costNs)} (${c.tied ? '=' : ''}${c.rank})`)),
      meanRank(i)?.toFixed(1) ?? (brokenOn(i) > 0 && brokenOn(i) < ran(i) ? `n/a: broken on ${brokenOn(i)} of ${ran(i)} traces` : 'n/a'),
    ]),
  };
}

/** What the across-traces table shows (Markdown; html.ts renders the same words); with several vendors a point ranks among its vendor's (rankAcrossTraces). */
export function rankIntroMd(rows: SweepRow[]): string {
  const among = vendorsOf(rows).length > 1 ? " among its own vendor's points" : '';
  return `Total cost (translation + invalidation) of each configuration on each trace, and in brackets its rank there${among}: 1 is the cheapest, \`=\` a tie. Points with DMA faults or map errors have no rank; a configuration with them on some trace has no mean rank and comes after those that work on every trace.`;
}

/** The findings of every trace, in trace order. */
export function sweepFindings(rows: SweepRow[], traces: string[]): TraceFindings[] {
  return traces.map((t) =>
    traceFindings(
      rows.filter((r) => r.trace === t),
      t,
    ),
  );
}

/** Section titles: each chart's, and the table of vendors'. */
const CHART_TITLES: Record<ChartName | 'vendors', string> = {
  hitRate: 'IOTLB hit rate',
  translationCost: 'Translation cost',
  tradeoff: 'Strict against lazy',
  pageMix: 'Page-size mix by bytes mapped',
  vendors: 'Vendors side by side',
};
export { CHART_TITLES };

/** What "At a glance" adds to a trace's recommendation when some (not all) of its points are broken. */
export function glanceNote(f: TraceFindings): string {
  const picked = (f.perVendor?.map((p) => p.recommendation) ?? [f.recommendation]).some((r) => !r.startsWith('No recommendation'));
  return f.broken && picked ? ` (${f.broken.points.length} point(s) with DMA faults or map errors left out.)` : '';
}

/**
 * Per-vendor findings as list items, "`amd` (AMD-Vi): …"; vendors whose
 * findings read the same (made apart, they came to the same pick) share one
 * item, "`vtd` (Intel VT-d) and `amd` (AMD-Vi) alike: …".
 */
export function vendorItems(findings: { vendor: string; text: string }[]): string[] {
  const byText = new Map<string, string[]>();
  for (const f of findings) byText.set(f.text, [...(byText.get(f.text) ?? []), f.vendor]);
  return [...byText].map(([text, vendors]) => {
    const names = vendors.map((v) => `\`${v}\` (${VENDOR_TITLES[v] ?? v})`);
    const who = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} alike`;
    return `${who}: ${text}`;
  });
}

/** A trace's per-vendor recommendations and trade-offs, as vendorItems takes them. */
export function perVendorFindings(f: TraceFindings): { recommendations: { vendor: string; text: string }[]; tradeoffs: { vendor: string; text: string }[] } {
  const per = f.perVendor ?? [];
  return {
    recommendations: per.map((p) => ({ vendor: p.vendor, text: p.recommendation })),
    tradeoffs: per.map((p) => ({ vendor: p.vendor, text: p.tradeoff })),
  };
}

/**
 * report.md. Trace names, point labels and the title come from file names and
 * configurations: they go in through mdText (tableMd escapes every cell); the
 * findings' sentences carry none of them.
 */
export function sweepMarkdown(rows: SweepRow[], traces: string[], title = 'iommu-replay sweep'): string {
  const out: string[] = [`# ${mdText(title)}`, ''];
  const points = [...new Set(rows.map((r) => r.point))];
  out.push(`${traces.length} trace(s) x ${points.length} configuration point(s). Rows: \`results.arrow\`; per-point summaries: \`summaries/\`.`, '');
  const findings = sweepFindings(rows, traces);
  out.push(
    '## At a glance',
    '',
    ...findings.flatMap((f) => [
      `- **${mdText(f.trace)}**:${f.perVendor ? glanceNote(f) : ` ${f.recommendation}${glanceNote(f)}`}`,
      ...vendorItems(perVendorFindings(f).recommendations).map((item) => `  - ${item}`),
    ]),
    '',
  );
  for (const f of findings) {
    const tr = rows.filter((r) => r.trace === f.trace);
    out.push(`## ${mdText(f.trace)}`, '');
    if (f.broken)
      out.push(
        `> **Warning.** ${f.broken.warning}`,
        '>',
        ...tableMd(brokenTable(f.broken.points))
          .split('\n')
          .map((l) => `> ${l}`),
        '',
      );
    if (f.perVendor)
      out.push(
        `**Recommendation, per vendor.** ${PER_VENDOR_INTRO_MD}`,
        '',
        ...vendorItems(perVendorFindings(f).recommendations).map((item) => `- ${item}`),
        '',
        '**Strict against lazy, per vendor.**',
        '',
        ...vendorItems(perVendorFindings(f).tradeoffs).map((item) => `- ${item}`),
        '',
      );
    else out.push(`**Recommendation.** ${f.recommendation}`, '', `**Strict against lazy.** ${f.tradeoff}`, '');
    if (tr.every((r) => r.dmaEvents === 0)) out.push('> This trace has no DMA events: hit rates need DMA events.', '');
    out.push(`### ${CHART_TITLES.hitRate}`, '', f.flat.hitRate ?? tableMd(gridTable(tr, 'iotlbHitRate')), '');
    out.push(`### ${CHART_TITLES.translationCost}`, '', f.flat.translationCost ?? tableMd(gridTable(tr, 'translationCostNs')), '');
    out.push(`### ${CHART_TITLES.pageMix}`, '', f.flat.pageMix ?? tableMd(pageMixTable(tr)), '');
    if (f.perVendor) out.push(`### ${CHART_TITLES.vendors}`, '', VENDOR_INTRO_MD, '', tableMd(vendorTable(tr)), '');
    out.push('### All points', '', tableMd(traceTable(tr)), '');
  }
  if (traces.length > 1) {
    out.push('## Across traces', '', rankIntroMd(rows), '');
    out.push(tableMd(rankTable(rankAcrossTraces(rows, traces))), '');
  }
  return out.join('\n');
}
