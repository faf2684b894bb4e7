// Curve outputs: curves.arrow (one row per trace, bitmap, mode, policy, ways
// and size), the summary JSON with each curve's knees, and the Markdown and
// HTML reports with the curves drawn on a log2 size axis.
import { A } from './arrow.js';
import type * as vl from 'vega-lite';
import { parseSizeLog2 } from '../config/pagesizes.js';
import type { CurveCounters, CurveResult } from '../run/curve.js';
import type { PolicyName } from '../config/config.js';
import { chartBase, svgOf } from './charts.js';
import { htmlPage } from './page.js';
import { problemText } from './problems.js';
import { escapeHtml as esc, fmtBytes, fmtInt, fmtNs, fmtPct, mdText, reusedBeforeFlushNote, tableHtml, tableMd, type Table } from './format.js';

/** One curve of the run: what it is of, and its points. */
export interface CurveOf {
  trace: string;
  /** Spelled as the sweep spells it: "4K+2M". */
  pageSizes: string;
  mode: string;
  /** Whose rules (model §9): "vtd", "amd", "smmuv3". */
  vendor: string;
  result: CurveResult;
}

/** The mode as labels show it: with the vendor when it is not VT-d (the default, unnamed as before vendors existed). */
function modeLabel(c: { mode: string; vendor: string }): string {
  return c.vendor === 'vtd' ? c.mode : `${c.mode} ${c.vendor}`;
}

export const KNEE_FRACTIONS = [0.9, 0.95, 0.99] as const;

export interface Knee {
  fraction: number;
  entries: number;
  /**
   * Bytes the knee's entries cover, by page size: at each size the trace's
   * translations were of (an IOTLB of N entries holding pages of that size
   * covers N x size), smallest first.
   */
  reachBytes: Record<string, number>;
}

/**
 * The smallest size whose hits reach each fraction of the curve's largest
 * hit count (undefined when the curve has no hit at all).
 */
export function kneesOf(c: CurveOf): Knee[] | undefined {
  const pts = c.result.points;
  let maxHits = 0;
  for (const p of pts) if (p.hits > maxHits) maxHits = p.hits;
  if (maxHits === 0) return undefined;
  return KNEE_FRACTIONS.map((fraction) => {
    const p = pts.find((x) => x.hits >= fraction * maxHits)!;
    return { fraction, entries: p.entries, reachBytes: reachOf(p.entries, c.result.pageSizesUsed) };
  });
}

/**
 * Reach of `entries` at each size used. A size name that does not parse is a
 * defect, not a NaN in the report (curves.json once had `reachBytes: null`
 * for every multi-size bitmap: the bitmap's "4K+2M" was split on "|").
 */
function reachOf(entries: number, sizes: string[]): Record<string, number> {
  return Object.fromEntries(
    sizes.map((s) => {
      const log2 = parseSizeLog2(s);
      if (log2 === undefined) throw new Error(`reach: page size "${s}" does not parse`);
      return [s, entries * 2 ** log2];
    }),
  );
}

/** How a curve was computed, in words, for the outputs. */
export function methodOf(r: CurveResult): string {
  if (r.policy === 'opt') return "Belady's OPT over the largest size's reference stream";
  if (r.method === 'stack') {
    const approx = r.approximate?.length
      ? `; sizes ${r.approximate.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ')} approximate (--max-groups reached)`
      : '';
    return `${approx ? '' : 'exact '}LRU stack profile (${r.groups} size group(s), ${r.passes} pass(es) over the trace${approx})`;
  }
  if (r.policy !== 'lru') return `${r.policy} has no stack property: each size replayed as a point (one decode, one table per size)`;
  if (r.ways === 0)
    return 'each power-of-two size replayed as a point (one decode, one table per size): the trace has nested domains, whose two-stage walks the stack profile does not model';
  return 'each number of sets replayed as a point (one decode, one table per geometry)';
}

const COUNTERS = ['lookups', 'hits', 'misses', 'staleHits', 'walks', 'walkAccesses', 'faults'] as const;

/** A Utf8 column of `rows` rows in runs: run i repeats values[i] counts[i] times. Built from bytes, not per row (a 2^20-size curve is 2^20 rows). */
function repeatedUtf8(values: string[], counts: number[], rows: number): A.Vector {
  const enc = new TextEncoder();
  const bytes = values.map((v) => enc.encode(v));
  let total = 0;
  for (let i = 0; i < values.length; i++) total += bytes[i].length * counts[i];
  const data = new Uint8Array(total);
  const valueOffsets = new Int32Array(rows + 1);
  let row = 0;
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const b = bytes[i];
    for (let k = 0; k < counts[i]; k++) {
      data.set(b, at);
      at += b.length;
      valueOffsets[++row] = at;
    }
  }
  return A.makeVector(A.makeData({ type: new A.Utf8(), length: rows, nullCount: 0, valueOffsets, data }));
}

/** Columns built as data, so that their fields are nullable as every column of curves.arrow always was. */
function u32Column(values: Uint32Array): A.Vector {
  return A.makeVector(A.makeData({ type: new A.Uint32(), length: values.length, nullCount: 0, data: values }));
}

/** A Float64 column whose NaN rows are null (hitRate at no lookups). */
function f64Column(values: Float64Array): A.Vector {
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) nullCount++;
  if (nullCount === 0) return A.makeVector(A.makeData({ type: new A.Float64(), length: values.length, nullCount: 0, data: values }));
  const nullBitmap = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) nullBitmap[i >> 3] |= 1 << (i & 7);
  return A.makeVector(A.makeData({ type: new A.Float64(), length: values.length, nullCount, data: values.map((v) => (Number.isNaN(v) ? 0 : v)), nullBitmap }));
}

/** An Int64 column from counters (integers below 2^53, never negative), written as two 32-bit words without a BigInt per row. */
function int64Of(values: Float64Array): A.Vector {
  const words = new Uint32Array(2 * values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    words[2 * i] = v % 4294967296;
    words[2 * i + 1] = Math.floor(v / 4294967296);
  }
  return A.makeVector(A.makeData({ type: new A.Int64(), length: values.length, data: new BigInt64Array(words.buffer) }));
}

/** curves.arrow: integer counters as int64 columns, the rates as float64. */
export function curvesArrow(curves: CurveOf[]): Uint8Array {
  const rows = curves.reduce((n, c) => n + c.result.points.length, 0);
  const counts = curves.map((c) => c.result.points.length);
  const text = (f: (c: CurveOf) => string) => repeatedUtf8(curves.map(f), counts, rows);
  const perRow = <T extends Uint32Array | Float64Array>(make: new (n: number) => T, f: (c: CurveOf, p: CurveCounters) => number): T => {
    const out = new make(rows);
    let i = 0;
    for (const c of curves) for (const p of c.result.points) out[i++] = f(c, p);
    return out;
  };
  for (const c of curves)
    for (const p of c.result.points)
      for (const k of COUNTERS) if (!Number.isSafeInteger(p[k]) || p[k] < 0) throw new Error(`curves.arrow: ${k} = ${p[k]} is not a count`);
  const cols: Record<string, A.Vector> = {
    trace: text((c) => c.trace),
    pageSizes: text((c) => c.pageSizes),
    mode: text((c) => c.mode),
    vendor: text((c) => c.vendor),
    policy: text((c) => c.result.policy),
    ways: u32Column(perRow(Uint32Array, (c) => c.result.ways)),
    sets: u32Column(perRow(Uint32Array, (_, p) => p.sets)),
    entries: u32Column(perRow(Uint32Array, (_, p) => p.entries)),
  };
  for (const k of COUNTERS) cols[k] = int64Of(perRow(Float64Array, (_, p) => p[k]));
  // null (no lookups) is a null row, as results.arrow's iotlb_hit_rate: NaN marks it here, never a rate.
  cols.hitRate = f64Column(perRow(Float64Array, (_, p) => p.hitRate ?? NaN));
  cols.translationCostNs = f64Column(perRow(Float64Array, (_, p) => p.translationCostNs));
  return A.tableToIPC(new A.Table(cols), 'file');
}

/** The summary JSON: per curve, how it was made, its largest hit count and its knees. */
export function curvesSummary(curves: CurveOf[], maxEntries: number) {
  return {
    version: 1,
    maxEntries,
    curves: curves.map((c) => {
      const last = c.result.points[c.result.points.length - 1];
      return {
        trace: c.trace,
        pageSizes: c.pageSizes,
        mode: c.mode,
        vendor: c.vendor,
        policy: c.result.policy,
        ways: c.result.ways,
        method: c.result.method,
        note: methodOf(c.result),
        ...(c.result.groups !== undefined ? { groups: c.result.groups, passes: c.result.passes, approximate: c.result.approximate ?? [] } : {}),
        // Lazy curves: maps of an IOVA still in the flush queue (docs/report-keys.md invalidation.reusedBeforeFlush).
        ...(c.result.reusedBeforeFlush ? { reusedBeforeFlush: { maps: c.result.reusedBeforeFlush.maps, pages: c.result.reusedBeforeFlush.pages } } : {}),
        points: c.result.points.length,
        largest: { entries: last.entries, lookups: last.lookups, hits: last.hits, hitRate: last.hitRate },
        knees: kneesOf(c) ?? null,
      };
    }),
  };
}

/** The most faults at any size of `results` (a loop: a 2^20-size curve's points overflow the stack as arguments of Math.max). */
export function mostFaults(results: CurveResult[]): number {
  let most = 0;
  for (const r of results) for (const p of r.points) if (p.faults > most) most = p.faults;
  return most;
}

/**
 * The note over a curve whose trace faulted or failed a map, unmap or attach,
 * in the words of curve's warning line, which points here (cli/curve.ts); or
 * null. The failed operations are the same at every size (CurveResult.ops);
 * the faults are the most at any size, each size's in the table.
 */
function problemNoteOf(c: CurveOf): string | null {
  const text = problemText({ ...c.result.ops, faults: mostFaults([c.result]) });
  return text === undefined ? null : `Warning: ${text} (faults: the most at any size, each size's in the table).`;
}

/** A lazy curve's note on IOVAs reused before their flush (format.ts reusedBeforeFlushNote), or null. */
function reusedNoteOf(c: CurveOf): string | null {
  const r = c.result.reusedBeforeFlush;
  return r && r.maps > 0 ? reusedBeforeFlushNote(r.maps, r.successfulMaps) : null;
}

function curveLabel(c: CurveOf): string {
  const ways = c.result.ways === 0 ? 'full' : `${c.result.ways}-way`;
  return `${c.trace} ${c.pageSizes} ${modeLabel(c)} ${c.result.policy} ${ways}`;
}

function kneeTable(curves: CurveOf[]): Table {
  return {
    header: ['curve', 'max hit rate', ...KNEE_FRACTIONS.map((f) => `${f * 100}% knee (reach)`), 'how'],
    rows: curves.map((c) => {
      const knees = kneesOf(c);
      const last = c.result.points[c.result.points.length - 1];
      return [
        curveLabel(c),
        fmtPct(last.hitRate),
        ...KNEE_FRACTIONS.map((_, i) => {
          const k = knees?.[i];
          return k
            ? `${k.entries} (${Object.entries(k.reachBytes)
                .map(([s, b]) => `${fmtBytes(b)} at ${s}`)
                .join(', ')})`
            : 'n/a';
        }),
        methodOf(c.result),
      ];
    }),
    alignRight: false,
  };
}

/** Whether a curve's size is among those --max-groups left approximate (CurveResult.approximate). */
function isApproximate(c: CurveOf, entries: number): boolean {
  return (c.result.approximate ?? []).some(([lo, hi]) => lo <= entries && entries <= hi);
}

/**
 * The reports' opening sentence: every point is replay's, except the sizes
 * --max-groups left approximate when a curve has some (the lazy curve of
 * traces/nic.arrows to 256 entries has, at the default 64 groups: its 64
 * entries count 5,408 hits where replay counts 5,407).
 */
function openingSentence(curves: CurveOf[]): string {
  const some = curves.some((c) => (c.result.approximate ?? []).length > 0);
  // --opt's curves are Belady's bound, which no replay policy gives (their knees' "how" says so).
  const opt = curves.some((c) => c.result.policy === 'opt');
  const except = [
    ...(some ? ['the sizes marked approximate (--max-groups reached: the knees\' "how" lists them)'] : []),
    ...(opt ? ["the OPT curves' points (Belady's bound, which no replacement policy of replay's reaches)"] : []),
  ];
  return `Every point is what \`replay\` reports at that IOTLB geometry${except.length ? `, except ${except.join(' and ')}` : ''}.`;
}

/**
 * The curve in a table; an approximate size says so. A stack curve (every
 * size) at the powers of two and the largest size; a points curve at every
 * geometry it replayed, already few: W ways gives W x 2^k entries, which
 * for W not a power of two (--ways 3, fit's 12 and 6) left the largest alone.
 */
function pointsTable(c: CurveOf): Table {
  const pts = c.result.points.filter((p, i, all) => c.result.method === 'points' || (p.entries & (p.entries - 1)) === 0 || i === all.length - 1);
  return {
    header: ['entries', 'sets', 'hit rate', 'hits', 'walks', 'walk accesses', 'stale hits', 'faults', 'translation cost'],
    rows: pts.map((p) => [
      `${p.entries}${isApproximate(c, p.entries) ? ' (approximate)' : ''}`,
      String(p.sets),
      fmtPct(p.hitRate),
      fmtInt(p.hits),
      fmtInt(p.walks),
      fmtInt(p.walkAccesses),
      fmtInt(p.staleHits),
      fmtInt(p.faults),
      fmtNs(p.translationCostNs),
    ]),
  };
}

export function curvesMarkdown(curves: CurveOf[], title = 'iommu-replay curve'): string {
  const out = [`# ${mdText(title)}`, '', `${openingSentence(curves)} Rows: \`curves.arrow\`; knees: \`curves.json\`.`, ''];
  out.push(
    '## Knees',
    '',
    "The smallest size that reaches 90, 95 and 99 % of the curve's largest hit count, and the bytes its entries cover.",
    '',
    tableMd(kneeTable(curves)),
    '',
  );
  // Trace names are file names: through mdText (tableMd escapes every cell).
  for (const c of curves) {
    out.push(`## ${mdText(curveLabel(c))}`, '');
    const note = reusedNoteOf(c);
    if (note) out.push(`> ${note}`, '');
    const problem = problemNoteOf(c);
    if (problem) out.push(`> ${problem}`, '');
    out.push(tableMd(pointsTable(c)), '');
  }
  return out.join('\n');
}

/** Powers of two from 1 to the largest size: the axis ticks. */
function pow2Ticks(max: number): number[] {
  const ticks: number[] = [];
  for (let e = 1; e <= max; e *= 2) ticks.push(e);
  return ticks;
}

/** Curves of up to this many sizes are drawn point for point. */
const CHART_ALL_POINTS = 4096;
/** Past it, a chart keeps at most this many sizes' extremes per octave of the log2 axis (a few per pixel). */
const CHART_BUCKETS_PER_OCTAVE = 64;

/**
 * The points a chart draws. A step-after line holds each hit rate until the
 * next point, so the sizes where the rate does not change draw nothing: past
 * CHART_ALL_POINTS sizes (a 2^20-size curve), only the sizes where it changes
 * are kept, and of those, in each 1/64 octave, the first, the last, the
 * lowest and the highest (the line's extent there). The tables and
 * curves.arrow keep every size.
 */
export function chartPoints(points: CurveCounters[]): CurveCounters[] {
  if (points.length <= CHART_ALL_POINTS) return points;
  const out: CurveCounters[] = [];
  let bucket = -1;
  let first = -1;
  let lo = -1;
  let hi = -1;
  let last = -1;
  const flush = () => {
    if (first < 0) return;
    for (const i of [...new Set([first, lo, hi, last])].sort((a, b) => a - b)) out.push(points[i]);
  };
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (i > 0 && i < points.length - 1 && p.hitRate === points[i - 1].hitRate) continue;
    const b = Math.floor(Math.log2(p.entries) * CHART_BUCKETS_PER_OCTAVE);
    if (b !== bucket) {
      flush();
      bucket = b;
      first = lo = hi = i;
    }
    // (A rate is null at every size or at none: the lookups do not depend on the size.)
    if ((p.hitRate ?? 0) < (points[lo].hitRate ?? 0)) lo = i;
    if ((p.hitRate ?? 0) > (points[hi].hitRate ?? 0)) hi = i;
    last = i;
  }
  flush();
  return out;
}

/** Draws chart specs, in order: here (svgOf, one after another) or on the chart thread (chart-thread.ts). */
export type ChartRenderer = (specs: vl.TopLevelSpec[]) => Promise<string[]>;

/** The charts drawn here, one after another. */
export const renderHere: ChartRenderer = async (specs) => {
  const svgs: string[] = [];
  for (const spec of specs) svgs.push(await svgOf(spec));
  return svgs;
};

/**
 * Hit rate against entries, log2 axis, one line per bitmap, OPT dashed: one
 * chart (an SVG of its own) per trace and mode, with the same axes, colours
 * and dashes in every one. Separate charts wrap on the page as it narrows,
 * where one faceted SVG would have to shrink as a whole (or scroll).
 */
export async function curveCharts(
  curves: CurveOf[],
  width = 300,
  height = 180,
  render: ChartRenderer = renderHere,
): Promise<{ trace: string; mode: string; svg: string }[]> {
  const values = curves.flatMap((c) =>
    chartPoints(c.result.points).map((p) => ({
      trace: c.trace,
      mode: modeLabel(c),
      pageSizes: c.pageSizes,
      policy: c.result.policy,
      ways: c.result.ways === 0 ? 'full' : `${c.result.ways}-way`,
      entries: p.entries,
      hitRate: p.hitRate,
    })),
  );
  const max = Math.max(1, ...curves.map((c) => c.result.points[c.result.points.length - 1].entries));
  // Solid LRU, dashed OPT, dotted point policies: only those drawn are in the legend.
  // Every policy curve takes (config.ts POLICIES, and opt): one left out had no
  // legend entry and no dash of its own (flush-when-full, docs/curves.md).
  const dashes: Record<PolicyName | 'opt', number[]> = {
    lru: [1, 0],
    opt: [6, 3],
    fifo: [2, 2],
    plru: [1, 3],
    random: [4, 1, 1, 1],
    'flush-when-full': [8, 2, 1, 2],
  };
  const policies = (Object.keys(dashes) as (keyof typeof dashes)[]).filter((p) => values.some((v) => v.policy === p));
  const bitmaps = [...new Set(values.map((v) => v.pageSizes))];
  // One panel per trace, mode and vendor; `mode` names the vendor when it is not VT-d.
  const panels = [...new Map(curves.map((c) => [`${c.trace}\0${modeLabel(c)}`, { trace: c.trace, mode: modeLabel(c) }])).values()];
  const specs = panels.map((panel) => {
    const spec = {
      ...chartBase,
      data: { values: values.filter((v) => v.trace === panel.trace && v.mode === panel.mode) },
      width,
      height,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: {
          field: 'entries',
          type: 'quantitative',
          scale: { type: 'log', base: 2, domain: [1, max] },
          axis: { values: pow2Ticks(max), format: 'd' },
          title: 'IOTLB entries',
        },
        y: { field: 'hitRate', type: 'quantitative', title: 'hit rate', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'pageSizes', type: 'nominal', title: 'page sizes', scale: { domain: bitmaps } },
        strokeDash: { field: 'policy', type: 'nominal', title: 'policy', scale: { domain: policies, range: policies.map((p) => dashes[p]) } },
        detail: { field: 'ways', type: 'nominal' },
      },
    };
    return spec as vl.TopLevelSpec;
  });
  const svgs = await render(specs);
  return panels.map((panel, i) => ({ ...panel, svg: svgs[i] }));
}

export async function curvesHtml(curves: CurveOf[], title = 'iommu-replay curve', render: ChartRenderer = renderHere): Promise<string> {
  const charts = await curveCharts(curves, undefined, undefined, render);
  const sections = [
    `<section id="curves"><h2>Hit rate against IOTLB entries</h2><div class="charts">${charts
      .map((c) => `<div class="chart"><h3>${esc(c.trace)}, ${esc(c.mode)}</h3><figure>${c.svg}</figure></div>`)
      .join('')}</div></section>`,
    `<section id="knees"><h2>Knees</h2><p>The smallest size that reaches 90, 95 and 99 % of the curve's largest hit count, and the bytes its entries cover.</p>${tableHtml(kneeTable(curves))}</section>`,
    ...curves.map((c) => {
      const note = reusedNoteOf(c);
      const problem = problemNoteOf(c);
      return `<section class="curve"><h2>${esc(curveLabel(c))}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}${problem ? `<p class="note">${esc(problem)}</p>` : ''}${tableHtml(pointsTable(c))}</section>`;
    }),
  ];
  return htmlPage(title, `<p>${esc(openingSentence(curves)).replace('`replay`', '<code>replay</code>')}</p>`, sections);
}
