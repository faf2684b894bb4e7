// Charts as inline SVG, rendered in Node by vega-lite + vega (no browser).
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { parseSizeLog2 } from '../config/pagesizes.js';
import type { SweepRow } from './compare.js';

export async function svgOf(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export const chartBase = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: { font: 'sans-serif', view: { stroke: '#ddd' }, axis: { labelLimit: 360 } } } as const;

/** Hit rate against IOTLB entries, one line per page-size bitmap, a panel per trace. */
export function hitRateChart(rows: SweepRow[]): Promise<string> {
  const values = rows.filter((r) => r.metrics.iotlbHitRate !== null).map((r) => ({ trace: r.trace, entries: r.iotlbEntries, hitRate: r.metrics.iotlbHitRate, pageSizes: r.pageSizes, mode: r.mode }));
  return svgOf({
    ...chartBase,
    data: { values },
    facet: { column: { field: 'trace', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'entries', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'IOTLB entries' },
        y: { field: 'hitRate', type: 'quantitative', title: 'hit rate', axis: { format: '%' } },
        color: { field: 'pageSizes', type: 'nominal', title: 'page sizes' },
        strokeDash: { field: 'mode', type: 'nominal', title: 'mode' },
      },
    },
  } as vl.TopLevelSpec);
}

/** Invalidation cost per configuration point, a bar per point and trace. */
export function invalidationChart(rows: SweepRow[]): Promise<string> {
  const values = rows.map((r) => ({ trace: r.trace, point: r.point, costMs: (r.metrics.invalidationCostNs ?? 0) / 1e6 }));
  return svgOf({
    ...chartBase,
    data: { values },
    width: 480,
    mark: 'bar',
    encoding: {
      y: { field: 'point', type: 'nominal', title: null, sort: null },
      yOffset: { field: 'trace', type: 'nominal' },
      x: { field: 'costMs', type: 'quantitative', title: 'invalidation cost (ms)' },
      color: { field: 'trace', type: 'nominal' },
    },
  } as vl.TopLevelSpec);
}

/**
 * Page-size mix: the share of mapped bytes by page size, per point and trace
 * (by count, one 2M page would vanish among 512 4K pages).
 */
export function pageMixChart(rows: SweepRow[]): Promise<string> {
  const values = rows.flatMap((r) =>
    Object.entries(r.mapPages)
      .filter(([, n]) => n > 0)
      .map(([size, pages]) => ({ trace: r.trace, point: r.point, size, bytes: pages * 2 ** parseSizeLog2(size)! })),
  );
  return svgOf({
    ...chartBase,
    data: { values },
    facet: { row: { field: 'trace', type: 'nominal', title: null } },
    spec: {
      width: 420,
      mark: 'bar',
      encoding: {
        y: { field: 'point', type: 'nominal', title: null, sort: null },
        x: { field: 'bytes', type: 'quantitative', stack: 'normalize', title: 'share of bytes mapped', axis: { format: '%' } },
        color: { field: 'size', type: 'nominal', title: 'page size' },
      },
    },
  } as vl.TopLevelSpec);
}
