// What a sweep report says in words: per trace, the recommendation (smallest
// IOTLB and page-size bitmap within a tolerance of the best translation cost),
// the strict-against-lazy trade-off, and a line for every chart whose values
// are all equal; across traces, each configuration's rank and cost per trace.
// A point whose DMAs fault or whose maps fail is no candidate: its costs
// count work that did not happen (a faulting DMA walks nothing), so the
// reports list it in a warning and leave it out of the recommendation and
// the ranks.
// The sentences carry no untrusted text (trace and point names): the
// renderers put those around them, escaped for their format.
// Markdown and HTML both render these, so they carry the same findings.
import { parseSizeLog2 } from '../config/pagesizes.js';
import { fmtInt, fmtNs, fmtPct, reusedBeforeFlushNote } from './format.js';
import type { SweepRow } from './compare.js';

/** Translation cost within this share of the best counts as "as good". */
export const TOLERANCE = 0.05;

/** `64x4`, or `64xfull` for a fully associative IOTLB. */
export function geometryOf(r: SweepRow): string {
  return `${r.iotlbEntries}x${r.iotlbWays === r.iotlbEntries && r.iotlbEntries > 1 ? 'full' : r.iotlbWays}`;
}

/** Geometries in the order a reader expects: entries, then ways (fully associative last). */
export function geometryOrder(rows: SweepRow[]): string[] {
  const seen = new Map<string, SweepRow>();
  for (const r of rows) if (!seen.has(geometryOf(r))) seen.set(geometryOf(r), r);
  return [...seen].sort(([, a], [, b]) => a.iotlbEntries - b.iotlbEntries || a.iotlbWays - b.iotlbWays).map(([g]) => g);
}

/** Bitmaps in sweep order (first appearance). */
export function bitmapOrder(rows: SweepRow[]): string[] {
  return [...new Set(rows.map((r) => r.pageSizes))];
}

export function modesOf(rows: SweepRow[]): string[] {
  return [...new Set(rows.map((r) => r.mode))];
}

/**
 * What the grids and charts lay points out by beside the bitmap and the
 * geometry: the mode, and the vendor when it is not VT-d ("strict amd"), so
 * that two vendors' points never share a cell (model §9).
 */
export function modeGroup(r: SweepRow): string {
  const group = r.vendor === 'vtd' ? r.mode : `${r.mode} ${r.vendor}`;
  // Points that differ in something else again (SweepRow.variant) never share a cell or a line either.
  return r.variant ? `${group} ${r.variant}` : group;
}

/** The vendors of rows, in sweep order (model §9). */
export function vendorsOf(rows: SweepRow[]): string[] {
  return [...new Set(rows.map((r) => r.vendor))];
}

/** The IOMMU each vendor name stands for, for the reports' words. */
export const VENDOR_TITLES: Record<string, string> = { vtd: 'Intel VT-d', amd: 'AMD-Vi', smmuv3: 'Arm SMMUv3' };

/**
 * A finding made per vendor when rows hold several (model §9): a pick or a
 * mean over several vendors' points would hand a user of one IOMMU a point
 * measured under another's rules (an AMD bitmap to someone choosing for an
 * Arm part). Null for a single vendor's rows, whose finding is made as one.
 */
function perVendor(rows: SweepRow[], finding: (rows: SweepRow[]) => string): { vendor: string; text: string }[] | null {
  const vendors = vendorsOf(rows);
  if (vendors.length < 2) return null;
  return vendors.map((vendor) => ({ vendor, text: finding(rows.filter((r) => r.vendor === vendor)) }));
}

/** Per-vendor findings as one text: "`vtd`: … `amd`: …". */
function joinPerVendor(parts: { vendor: string; text: string }[]): string {
  return parts.map((p) => `\`${p.vendor}\`: ${p.text}`).join(' ');
}

export function modeGroupsOf(rows: SweepRow[]): string[] {
  return [...new Set(rows.map(modeGroup))];
}

/** The page sizes a point allows (not the pieces of its label: a preset's name is one piece, `4K..32K` another). */
const sizeCount = (r: SweepRow) => r.pageSizeCount;

/** ` (walkCache.entries=64)`: what else tells the point apart, when something does (SweepRow.variant); '' otherwise. */
function variantText(r: SweepRow): string {
  return r.variant ? ` (${r.variant})` : '';
}

/** `64x4 with 4K+2M`, and its variantText. */
function pointText(r: SweepRow): string {
  return `${geometryOf(r)} with ${r.pageSizes}${variantText(r)}`;
}

function pctAbove(v: number, base: number): string {
  return base === 0 ? 'n/a' : `+${((v / base - 1) * 100).toFixed(v / base - 1 < 0.1 ? 1 : 0)}%`;
}

/** The distinct values of a metric over rows (nulls left out). */
export function distinct(rows: SweepRow[], key: string): number[] {
  return [...new Set(rows.map((r) => r.metrics[key]).filter((v): v is number => v !== null))];
}

/** DMA faults and map errors of a broken point, else null. */
export function brokenCounts(r: SweepRow): { dmaFaults: number; mapErrors: number } | null {
  const dmaFaults = r.counts.dma_faults ?? 0;
  const mapErrors = r.counts.map_errors ?? 0;
  return dmaFaults > 0 || mapErrors > 0 ? { dmaFaults, mapErrors } : null;
}

/** The points charts draw: the working ones (all of them when every point is broken, so that the charts say what happened). */
export function workingRows(rows: SweepRow[]): SweepRow[] {
  const ok = rows.filter((r) => brokenCounts(r) === null);
  return ok.length ? ok : rows;
}

/** A broken point of the warning's table: its DMA faults, map errors, and attaches with those that failed. */
export interface BrokenPoint {
  point: string;
  dmaFaults: number;
  mapErrors: number;
  attaches: number;
  attachErrors: number;
}

/** The broken points of rows, in sweep order, with their counts. */
export function brokenPoints(rows: SweepRow[]): BrokenPoint[] {
  return rows.flatMap((r) => {
    const b = brokenCounts(r);
    return b ? [{ point: r.point, ...b, attaches: r.counts.attach_ops ?? 0, attachErrors: r.counts.attach_errors ?? 0 }] : [];
  });
}

/**
 * The warning over a trace's broken points, or null when there are none.
 * When one failed an attach, it says what that does: a point whose only
 * failure was an attach (traces/mixed.arrows under smmuv3: the VF behind the
 * second SMMU, model §9.1) faults with no map error, and the one cause the
 * warning gave was a map the page sizes cannot hold (stderr's line names the
 * attach).
 */
export function brokenWarning(rows: SweepRow[]): string | null {
  const broken = brokenPoints(rows);
  if (!broken.length) return null;
  const all = broken.length === rows.length;
  // Model §2: a failed attach leaves the previous attachment; a device never attached is blocked.
  const attach = broken.some((b) => b.attachErrors > 0)
    ? '; an attach that fails leaves its device in its old domain, or none, where DMAs meant for the new one fault'
    : '';
  return `${all ? `All ${rows.length}` : `${broken.length} of ${rows.length}`} point(s) have DMA faults or map errors (a map the page sizes cannot hold fails, and DMAs to it fault${attach}): their costs count work that did not happen, so they are left out of the recommendation and the ranks.`;
}

export interface TraceFindings {
  trace: string;
  /** One sentence with the numbers. */
  recommendation: string;
  /** Points with DMA faults or map errors, and the sentence over them (null: none). */
  broken: { warning: string; points: BrokenPoint[] } | null;
  /** Strict against lazy, when both ran, else how to get it. */
  tradeoff: string;
  /**
   * With several vendors, the recommendation and the trade-off of each
   * vendor's points on their own (`recommendation` and `tradeoff` then join
   * them); null for one vendor.
   */
  perVendor: { vendor: string; recommendation: string; tradeoff: string }[] | null;
  /** One line per chart that is left out because its values are all equal. */
  flat: Record<ChartName, string | null>;
}

export type ChartName = 'hitRate' | 'translationCost' | 'tradeoff' | 'pageMix';

/**
 * The rows a recommendation is made from: the strict ones when strict ran
 * (translation barely depends on the mode, and strict is Linux's default for
 * untrusted devices), else all.
 */
function recommendationRows(rows: SweepRow[]): SweepRow[] {
  const strict = rows.filter((r) => r.mode === 'strict');
  return strict.length ? strict : rows;
}

/**
 * The recommendation: among one vendor's points, or with several vendors one
 * per vendor, each made among that vendor's points only (perVendor).
 */
export function recommend(rows: SweepRow[], tolerance = TOLERANCE): string {
  const parts = perVendor(rows, (rs) => recommendOne(rs, tolerance));
  return parts ? joinPerVendor(parts) : recommendOne(rows, tolerance);
}

function recommendOne(rows: SweepRow[], tolerance: number): string {
  const costed = recommendationRows(rows).filter((r) => r.metrics.translationCostNs !== null);
  if (!costed.length || costed.every((r) => r.dmaEvents === 0))
    return `No recommendation: the trace has no DMA events (hit rates and translation cost need them).`;
  const cands = costed.filter((r) => brokenCounts(r) === null);
  if (!cands.length) {
    const faults = Math.min(...costed.map((r) => r.counts.dma_faults ?? 0));
    const errors = Math.min(...costed.map((r) => r.counts.map_errors ?? 0));
    return `No recommendation: every point has DMA faults or map errors (at least ${fmtInt(faults)} DMA faults and ${fmtInt(errors)} map errors each), so no cost here measures a working configuration; see the warning.`;
  }
  const cost = (r: SweepRow) => r.metrics.translationCostNs!;
  const best = Math.min(...cands.map(cost));
  const worst = Math.max(...cands.map(cost));
  const modeNote = rows.some((r) => r.mode !== 'strict') && rows.some((r) => r.mode === 'strict') ? ' (strict mode)' : '';
  if (cands.length === 1)
    return `One working point to choose from${modeNote}: ${smallest(cands)}, at a translation cost of ${fmtNs(best)}; sweep more IOTLB sizes or page-size bitmaps to compare.`;
  if (best === worst) {
    return `All equal: every one of the ${cands.length} points has a translation cost of ${fmtNs(best)}, so neither the IOTLB size nor the page-size bitmap changes it; take the smallest, ${smallest(cands)}.`;
  }
  const good = cands.filter((r) => cost(r) <= best * (1 + tolerance));
  // Smallest IOTLB first (entries, then ways: fewer comparators), then the
  // fewest page sizes (less for the domain to support), then the cost.
  good.sort((a, b) => a.iotlbEntries - b.iotlbEntries || a.iotlbWays - b.iotlbWays || sizeCount(a) - sizeCount(b) || cost(a) - cost(b));
  const pick = good[0];
  const geom = geometryOf(pick);
  // The pick's geometry, and what else the pick is (its variant): the page sizes compared there differ in nothing else.
  const atGeom = cands.filter((r) => geometryOf(r) === geom && r.variant === pick.variant);
  const tied = good.filter((r) => geometryOf(r) === geom && r.variant === pick.variant && cost(r) === cost(pick)).map((r) => r.pageSizes);
  const bitmapText =
    tied.length > 1 && tied.length === new Set(atGeom.map((r) => r.pageSizes)).size
      ? `any page-size bitmap (${tied.join(', ')}: all equal)`
      : tied.length > 1
        ? `page sizes ${tied.join(' or ')} (equal)`
        : `page sizes ${pick.pageSizes}`;
  const bestRows = cands.filter((r) => cost(r) === best);
  const bestAt =
    bestRows.length === 1 ? `, at ${bestRows[0].pageSizes} ${geometryOf(bestRows[0])}${variantText(bestRows[0])}` : `, reached by ${bestRows.length} points`;
  const why: string[] = [];
  // Why not smaller: the best that the next smaller IOTLB manages.
  const smaller = cands.filter((r) => r.iotlbEntries < pick.iotlbEntries);
  if (smaller.length) {
    const maxEntries = Math.max(...smaller.map((r) => r.iotlbEntries));
    const next = smaller.filter((r) => r.iotlbEntries === maxEntries).sort((a, b) => cost(a) - cost(b))[0];
    why.push(`the best ${maxEntries}-entry point costs ${fmtNs(cost(next))} (${pctAbove(cost(next), best)})`);
  } else {
    why.push('it is the smallest IOTLB tried');
  }
  // Why these page sizes: what fewer page sizes cost at the same geometry.
  const fewer = atGeom.filter((r) => sizeCount(r) < sizeCount(pick)).sort((a, b) => cost(a) - cost(b))[0];
  if (fewer && !tied.includes(fewer.pageSizes)) why.push(`${fewer.pageSizes} there costs ${fmtNs(cost(fewer))} (${pctAbove(cost(fewer), best)})`);
  return `A ${geom} IOTLB with ${bitmapText}${variantText(pick)} comes within ${Math.round(tolerance * 100)}% of the best translation cost${modeNote}, ${fmtNs(cost(pick))} against ${fmtNs(best)}${bestAt}; ${why.join(', and ')}.`;
}

function smallest(rows: SweepRow[]): string {
  return pointText([...rows].sort((a, b) => a.iotlbEntries - b.iotlbEntries || a.iotlbWays - b.iotlbWays || sizeCount(a) - sizeCount(b))[0]);
}

/** A relative change in percent, with a decimal where rounding would say 0 or 100. */
function pctChange(from: number, to: number): string {
  const p = (to / from - 1) * 100;
  const digits = Math.abs(p) < 1 || Math.abs(p) > 99 ? 1 : 0;
  return `${p < 0 ? '−' : '+'}${Math.abs(p).toFixed(digits)}%`;
}

/** Strict against lazy: mean invalidation cost per point, and the worst stale exposure, of each mode (per vendor with several). */
export function tradeoff(rows: SweepRow[]): string {
  const parts = perVendor(rows, tradeoffOne);
  return parts ? joinPerVendor(parts) : tradeoffOne(rows);
}

function tradeoffOne(rows: SweepRow[]): string {
  const modes = modesOf(rows);
  // The working points only: a broken point's costs count work that did not happen (its maps failed).
  const working = rows.filter((r) => brokenCounts(r) === null);
  const s = working.filter((r) => r.mode === 'strict');
  const l = working.filter((r) => r.mode === 'lazy');
  const ranStrict = rows.some((r) => r.mode === 'strict');
  const ranLazy = rows.some((r) => r.mode === 'lazy');
  if (!ranStrict || !ranLazy)
    return `Only ${modes.join(', ') || 'one mode of'} invalidation was run on this trace; add \`--mode strict lazy\` to weigh lazy invalidation's cost against its stale exposure.${ranLazy ? reusedNote(rows.filter((r) => r.mode === 'lazy')) : ''}`;
  if (!s.length || !l.length) {
    const none = !s.length && !l.length ? 'strict and every lazy' : s.length ? 'lazy' : 'strict';
    // The working lazy points' note still holds when only strict is broken (a DMA after its unmap faults there, and is a stale hit under lazy).
    return `No strict-against-lazy comparison: every ${none} point has DMA faults or map errors, so its costs measure no working configuration; see the warning.${reusedNote(l)}`;
  }
  const some = working.length < rows.length ? ' without DMA faults or map errors' : '';
  const mean = (rs: SweepRow[]) => rs.reduce((a, r) => a + (r.metrics.invalidationCostNs ?? 0), 0) / rs.length;
  const max = (rs: SweepRow[], k: string) => rs.reduce((a, r) => Math.max(a, r.metrics[k] ?? 0), 0);
  const [cs, cl] = [mean(s), mean(l)];
  const change =
    cs === cl
      ? `leaves the invalidation cost at ${fmtNs(cs)}`
      : `${cl < cs ? 'cuts' : 'raises'} the invalidation cost from ${fmtNs(cs)} to ${fmtNs(cl)}${cs > 0 ? ` (${pctChange(cs, cl)})` : ''}`;
  const exposure = (rs: SweepRow[]) =>
    max(rs, 'staleHits') === 0 && max(rs, 'staleWindowMaxNs') === 0
      ? 'no stale hits and no stale window'
      : `up to ${fmtInt(max(rs, 'staleHits'))} stale hits and stale windows up to ${fmtNs(max(rs, 'staleWindowMaxNs'))}`;
  return `Lazy invalidation ${change} (mean per point${some}) with ${exposure(l)}; strict has ${exposure(s)}.${reusedNote(l)}`;
}

/** The lazy points' note on IOVAs reused before their flush (format.ts reusedBeforeFlushNote), with a leading space; '' when none did. */
function reusedNote(lazy: SweepRow[]): string {
  const reusing = lazy.filter((r) => (r.reusedBeforeFlush ?? 0) > 0);
  if (!reusing.length) return '';
  const most = reusing.reduce((a, r) => (r.reusedBeforeFlush! > a.reusedBeforeFlush! ? r : a));
  const mapped = (r: SweepRow) => (r.counts.map_ops ?? 0) - (r.counts.map_errors ?? 0);
  const upTo = lazy.some((r) => r.reusedBeforeFlush !== most.reusedBeforeFlush || mapped(r) !== mapped(most));
  return ` ${reusedBeforeFlushNote(most.reusedBeforeFlush!, mapped(most), upTo)}`;
}

/** A line for a chart whose values are all equal, else null (the chart is drawn). */
export function flatLines(rows: SweepRow[]): Record<ChartName, string | null> {
  const working = workingRows(rows);
  const one = (key: string, text: (v: number) => string, of = rows) => {
    const d = distinct(of, key);
    return d.length === 0 ? `No ${key === 'iotlbHitRate' ? 'IOTLB lookups' : 'values'} to chart.` : d.length === 1 ? text(d[0]) : null;
  };
  const mixes = new Set(pageMixRows(rows).map((m) => m.mix));
  const tradeRows = rows.map((r) => `${r.metrics.invalidationCostNs}/${r.metrics.staleHits}/${r.metrics.staleWindowMaxNs}`);
  return {
    hitRate: one(
      'iotlbHitRate',
      (v) => `IOTLB hit rate is ${fmtPct(v)} at every point${working.length < rows.length ? ' without DMA faults or map errors' : ''}.`,
      working,
    ),
    translationCost: one('translationCostNs', (v) => `Translation cost is ${fmtNs(v)} at every point.`),
    tradeoff:
      modesOf(rows).length < 2
        ? null
        : new Set(tradeRows).size === 1
          ? `Invalidation cost (${fmtNs(rows[0].metrics.invalidationCostNs ?? 0)}) and stale exposure are the same in both modes.`
          : null,
    pageMix: mixes.size <= 1 ? `Every bitmap maps the same page sizes${mixes.size ? `: ${[...mixes][0] || 'nothing mapped'}` : ''}.` : null,
  };
}

/** The page-size mix by bytes mapped, one entry per bitmap (the IOTLB does not change it). */
export function pageMixRows(rows: SweepRow[]): { pageSizes: string; mix: string; bytes: Record<string, number> }[] {
  const out = new Map<string, { pageSizes: string; mix: string; bytes: Record<string, number> }>();
  for (const r of rows) {
    if (out.has(r.pageSizes)) continue;
    const bytes: Record<string, number> = {};
    for (const [size, pages] of Object.entries(r.mapPages)) if (pages > 0) bytes[size] = pages * 2 ** parseSizeLog2(size)!;
    const total = Object.values(bytes).reduce((a, b) => a + b, 0);
    const mix = Object.entries(bytes)
      .map(([size, b]) => `${size} ${fmtPct(b / total, 0)}`)
      .join(', ');
    out.set(r.pageSizes, { pageSizes: r.pageSizes, mix, bytes });
  }
  return [...out.values()];
}

export function traceFindings(rows: SweepRow[], trace: string, tolerance = TOLERANCE): TraceFindings {
  const warning = brokenWarning(rows);
  const recs = perVendor(rows, (rs) => recommendOne(rs, tolerance));
  const trades = perVendor(rows, tradeoffOne);
  return {
    trace,
    recommendation: recs ? joinPerVendor(recs) : recommendOne(rows, tolerance),
    broken: warning === null ? null : { warning, points: brokenPoints(rows) },
    tradeoff: trades ? joinPerVendor(trades) : tradeoffOne(rows),
    perVendor: recs && trades ? recs.map((r, i) => ({ vendor: r.vendor, recommendation: r.text, tradeoff: trades[i].text })) : null,
    flat: flatLines(rows),
  };
}

/** Total cost of a point: what ranks configurations across traces. */
export const totalCostNs = (r: SweepRow) => (r.metrics.translationCostNs ?? 0) + (r.metrics.invalidationCostNs ?? 0);

export interface RankTable {
  points: string[];
  traces: string[];
  /**
   * [point][trace]: competition rank (1 = cheapest; ties share a rank) and
   * total cost; a broken point (DMA faults, map errors) has no rank. With
   * several vendors a point is ranked among its own vendor's points (model
   * §9: a rank across vendors would be a pick across them).
   */
  cells: ({ rank: number | null; tied: boolean; costNs: number } | null)[][];
}

/** Each configuration's rank and total cost (translation + invalidation) per trace. */
export function rankAcrossTraces(rows: SweepRow[], traces: string[]): RankTable {
  const points = [...new Set(rows.map((r) => r.point))];
  const cells = points.map(() => traces.map(() => null as RankTable['cells'][number][number]));
  traces.forEach((t, ti) => {
    const tr = rows.filter((r) => r.trace === t);
    for (const r of tr) {
      const c = totalCostNs(r);
      if (brokenCounts(r) !== null) {
        cells[points.indexOf(r.point)][ti] = { rank: null, tied: false, costNs: c };
        continue;
      }
      const costs = tr.filter((x) => x.vendor === r.vendor && brokenCounts(x) === null).map(totalCostNs);
      const rank = 1 + costs.filter((x) => x < c).length;
      const tied = costs.filter((x) => x === c).length > 1;
      cells[points.indexOf(r.point)][ti] = { rank, tied, costNs: c };
    }
  });
  return { points, traces, cells };
}
