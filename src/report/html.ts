// A self-contained HTML report of a sweep: tables and inline SVG charts, no
// scripts, no external resources.
import { hitRateChart, invalidationChart, pageMixChart } from './charts.js';
import { crossTable, traceTable, winnersTable, type SweepRow } from './compare.js';
import { escapeHtml as esc, tableHtml } from './format.js';

export async function sweepHtml(rows: SweepRow[], traces: string[], title = 'iommu-replay sweep'): Promise<string> {
  const [hit, inv, mix] = await Promise.all([hitRateChart(rows), invalidationChart(rows), pageMixChart(rows)]);
  const sections: string[] = [];
  sections.push(`<section id="hit-rate"><h2>Hit rate against IOTLB entries</h2><figure>${hit}</figure></section>`);
  sections.push(`<section id="invalidation"><h2>Invalidation cost per configuration</h2><figure>${inv}</figure></section>`);
  sections.push(`<section id="page-mix"><h2>Page-size mix</h2><figure>${mix}</figure></section>`);
  for (const t of traces) {
    const tr = rows.filter((r) => r.trace === t);
    sections.push(`<section class="trace"><h2>${esc(t)}</h2>${tableHtml(traceTable(tr))}<h3>Best point per metric</h3>${tableHtml(winnersTable(tr))}</section>`);
  }
  if (traces.length > 1) {
    sections.push(`<section class="across"><h2>Across traces: IOTLB hit rate</h2>${tableHtml(crossTable(rows, 'iotlbHitRate'))}<h3>Invalidation cost</h3>${tableHtml(crossTable(rows, 'invalidationCostNs'))}</section>`);
  }
  const points = new Set(rows.map((r) => r.point)).size;
  return htmlPage(title, `<p>${traces.length} trace(s) &times; ${points} configuration point(s).</p>`, sections);
}

/** A self-contained page: the title, an intro paragraph and the sections. */
export function htmlPage(title: string, intro: string, sections: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
thead{background:#f4f4f4}
figure{margin:0;overflow-x:auto}
</style></head>
<body><h1>${esc(title)}</h1>
${intro}
${sections.join('\n')}
</body></html>
`;
}
