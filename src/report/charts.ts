// Charts as inline SVG, rendered in Node by vega-lite + vega (no browser, no
// network). One chart per trace and question, each with its own y scale; the
// caller leaves out a chart whose values are all equal (findings.ts says so in
// a line instead).
import type * as vl from 'vega-lite';
import type { SweepRow } from './compare.js';
import { bitmapOrder, brokenCounts, geometryOf, geometryOrder, modeGroup, modeGroupsOf, pageMixRows, vendorsOf, workingRows } from './findings.js';
import { parseSizeLog2 } from '../config/pagesizes.js';
import { fmtNs } from './format.js';

/**
 * The libraries load at the first chart, not with this module: `curve`
 * imports its report in the main thread and draws its charts on a thread of
 * their own (chart-thread.ts), which loads them while the curve is computed.
 */
async function chartLibraries(): Promise<{ vega: typeof import('vega'); vl: typeof import('vega-lite') }> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  return { vega, vl };
}

export async function svgOf(spec: vl.TopLevelSpec): Promise<string> {
  const { vega, vl } = await chartLibraries();
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * What every chart shares. Legends go below the plot, so that a chart is
 * about as wide as its plot: the page scales an SVG down to the width of a
 * phone (html.ts), and a narrow chart loses less of its text that way.
 */
/**
 * A y axis of page-size labels keeps its title above the labels, not beside
 * them: in Node, vega measures text by an estimate, and a long bitmap label
 * (4K+8K+16K+...) came out wider than measured, under a title placed beside it.
 */
const bitmapAxis = { titleAngle: 0, titleAlign: 'right', titleBaseline: 'bottom', titleX: -6, titleY: -6 } as const;

export const chartBase = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  config: { font: 'sans-serif', view: { stroke: '#ddd' }, axis: { labelLimit: 360 }, legend: { labelLimit: 360, orient: 'bottom', direction: 'vertical' } },
} as const;

/** A rendered chart and the number of distinct values it plots (at least 2, or the caller leaves it out). */
export interface Chart {
  svg: string;
  distinctValues: number;
}

/**
 * Series of hit rate against entries, one per bitmap (and mode, when both
 * ran). Bitmaps whose series are identical are drawn once, labelled
 * `4K = 4K+2M`, so that no line hides another.
 */
export function hitRateSeries(all: SweepRow[]): { series: string; entries: number; ways: string; hitRate: number }[] {
  // Points with DMA faults or map errors are left out (the report's warning lists them).
  const rows = workingRows(all);
  // Modes, with the vendor when it is not VT-d (findings.ts modeGroup).
  const twoModes = modeGroupsOf(rows).length > 1;
  const geoms = geometryOrder(rows);
  const keyOf = (r: SweepRow) => (twoModes ? `${r.pageSizes} ${modeGroup(r)}` : r.pageSizes);
  const byKey = new Map<string, SweepRow[]>();
  for (const r of rows) if (r.metrics.iotlbHitRate !== null) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
  const shape = (rs: SweepRow[]) => geoms.map((g) => rs.find((r) => geometryOf(r) === g)?.metrics.iotlbHitRate ?? null).join(',');
  const groups = new Map<string, string[]>();
  for (const [key, rs] of byKey) groups.set(shape(rs), [...(groups.get(shape(rs)) ?? []), key]);
  const out: { series: string; entries: number; ways: string; hitRate: number }[] = [];
  for (const keys of groups.values()) {
    // "strict: 4K = 4K+2M" rather than "4K strict = 4K+2M strict": shorter
    // legends, narrower charts, and the mode survives a label cut at its end.
    const rs = keys.map((k) => byKey.get(k)![0]);
    const oneMode = twoModes && rs.every((r) => modeGroup(r) === modeGroup(rs[0]));
    const label = oneMode ? `${modeGroup(rs[0])}: ${rs.map((r) => r.pageSizes).join(' = ')}` : keys.join(' = ');
    for (const r of byKey.get(keys[0])!) out.push({ series: label, entries: r.iotlbEntries, ways: waysLabel(r), hitRate: r.metrics.iotlbHitRate! });
  }
  return out;
}

function waysLabel(r: SweepRow): string {
  return r.iotlbWays === r.iotlbEntries && r.iotlbEntries > 1 ? 'full' : `${r.iotlbWays}-way`;
}

/**
 * Hit rate against IOTLB entries for one trace: a log2 x axis with ticks at
 * the sizes that were run, associativity as the point shape (and as the line
 * grouping when one size ran with several associativities, so that 64x1,
 * 64x4 and 64xfull are three points, not one).
 */
export async function hitRateChart(rows: SweepRow[]): Promise<Chart> {
  const values = hitRateSeries(rows);
  const sizes = [...new Set(values.map((v) => v.entries))].sort((a, b) => a - b);
  const waysPerSize = Math.max(...sizes.map((e) => new Set(values.filter((v) => v.entries === e).map((v) => v.ways)).size));
  const svg = await svgOf({
    ...chartBase,
    data: { values },
    width: 340,
    height: 220,
    mark: { type: 'line', point: { size: 60, filled: true } },
    encoding: {
      x: {
        field: 'entries',
        type: 'quantitative',
        scale: { type: 'log', base: 2, domain: [sizes[0], sizes[sizes.length - 1]], nice: false },
        axis: { values: sizes, format: 'd' },
        title: 'IOTLB entries',
      },
      y: { field: 'hitRate', type: 'quantitative', scale: { zero: false }, title: 'IOTLB hit rate', axis: { format: '.1%' } },
      color: { field: 'series', type: 'nominal', title: 'page sizes', sort: null },
      shape: { field: 'ways', type: 'nominal', title: 'associativity' },
      ...(waysPerSize > 1 ? { strokeDash: { field: 'ways', type: 'nominal', title: 'associativity' }, detail: { field: 'ways' } } : {}),
    },
  } as vl.TopLevelSpec);
  return { svg, distinctValues: new Set(values.map((v) => v.hitRate)).size };
}

/**
 * Translation cost as a bitmap x geometry heatmap, a panel per mode (one
 * above the other) when both ran. A point with DMA faults or map errors is
 * an empty cell that reads "broken": its cost would look the cheapest.
 */
export async function translationCostChart(rows: SweepRow[]): Promise<Chart> {
  const values = rows
    .filter((r) => r.metrics.translationCostNs !== null)
    .map((r) => {
      const broken = brokenCounts(r) !== null;
      return {
        pageSizes: r.pageSizes,
        geometry: geometryOf(r),
        mode: modeGroup(r),
        costMs: broken ? null : r.metrics.translationCostNs! / 1e6,
        label: broken ? 'broken' : fmtNs(r.metrics.translationCostNs!),
      };
    });
  const costs = values.flatMap((v) => (v.costMs === null ? [] : [v.costMs]));
  const mid = (Math.min(...costs) + Math.max(...costs)) / 2;
  const layer = {
    width: { step: 64 },
    height: { step: 28 },
    encoding: {
      x: { field: 'geometry', type: 'ordinal', sort: geometryOrder(rows), title: 'IOTLB (entries x ways)', axis: { labelAngle: 0 } },
      y: { field: 'pageSizes', type: 'ordinal', sort: bitmapOrder(rows), title: 'page sizes', axis: bitmapAxis },
    },
    layer: [
      {
        mark: 'rect',
        encoding: { color: { field: 'costMs', type: 'quantitative', title: 'cost (ms)', scale: { scheme: 'orangered' }, legend: { direction: 'horizontal' } } },
      },
      // Dark cells get white text.
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: { text: { field: 'label' }, color: { condition: { test: `datum.costMs > ${mid}`, value: 'white' }, value: 'black' } },
      },
    ],
  };
  const spec =
    modeGroupsOf(rows).length > 1
      ? { ...chartBase, data: { values }, facet: { row: { field: 'mode', type: 'nominal', title: null } }, spec: layer }
      : { ...chartBase, data: { values }, ...layer };
  return { svg: await svgOf(spec as vl.TopLevelSpec), distinctValues: new Set(values.map((v) => v.costMs ?? v.label)).size };
}

/**
 * Strict against lazy: invalidation cost against stale exposure (stale hits,
 * and the longest stale window), a point per configuration, colour by mode.
 */
export async function tradeoffChart(rows: SweepRow[]): Promise<Chart> {
  // With several vendors, each point's shape says whose it is (model §9); one vendor's chart is as before.
  const vendors = vendorsOf(rows);
  const values = rows.map((r) => ({
    mode: r.mode,
    ...(vendors.length > 1 ? { vendor: r.vendor } : {}),
    point: r.point,
    costMs: (r.metrics.invalidationCostNs ?? 0) / 1e6,
    staleHits: r.metrics.staleHits ?? 0,
    windowUs: (r.metrics.staleWindowMaxNs ?? 0) / 1e3,
  }));
  const panel = (field: string, title: string) => ({
    width: 300,
    height: 160,
    mark: { type: 'point', filled: true, size: 70, opacity: 0.8 },
    encoding: {
      x: { field: 'costMs', type: 'quantitative', title: 'invalidation cost (ms)', scale: { zero: true } },
      y: { field, type: 'quantitative', title, scale: { zero: true } },
      color: { field: 'mode', type: 'nominal', title: 'mode', sort: ['strict', 'lazy'] },
      ...(vendors.length > 1 ? { shape: { field: 'vendor', type: 'nominal', title: 'vendor', sort: vendors } } : {}),
    },
  });
  const svg = await svgOf({
    ...chartBase,
    data: { values },
    vconcat: [panel('staleHits', 'stale hits'), panel('windowUs', 'longest stale window (µs)')],
  } as vl.TopLevelSpec);
  return { svg, distinctValues: new Set(values.map((v) => `${v.costMs}/${v.staleHits}/${v.windowUs}`)).size };
}

/**
 * Page-size mix: the share of mapped bytes by page size, one bar per bitmap
 * (by count, one 2M page would vanish among 512 4K pages).
 */
export async function pageMixChart(rows: SweepRow[]): Promise<Chart> {
  const values = pageMixRows(rows).flatMap((m) => Object.entries(m.bytes).map(([size, bytes]) => ({ pageSizes: m.pageSizes, size, bytes })));
  const svg = await svgOf({
    ...chartBase,
    data: { values },
    width: 340,
    height: { step: 24 },
    mark: 'bar',
    encoding: {
      y: { field: 'pageSizes', type: 'nominal', title: 'page sizes allowed', sort: bitmapOrder(rows), axis: bitmapAxis },
      x: { field: 'bytes', type: 'quantitative', stack: 'normalize', title: 'share of bytes mapped', axis: { format: '%' } },
      color: {
        field: 'size',
        type: 'nominal',
        title: 'page size',
        sort: [...new Set(values.map((v) => v.size))].sort((a, b) => parseSizeLog2(a)! - parseSizeLog2(b)!),
      },
    },
  } as vl.TopLevelSpec);
  return { svg, distinctValues: new Set(values.map((v) => `${v.pageSizes}:${v.size}:${v.bytes}`)).size };
}
