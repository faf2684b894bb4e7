// A self-contained HTML report of a sweep: the findings of report.md, charts
// as inline SVG, no scripts, no external resources (it works offline).
import { hitRateChart, pageMixChart, tradeoffChart, translationCostChart, type Chart } from './charts.js';
import {
  CHART_TITLES,
  PER_VENDOR_INTRO_MD,
  VENDOR_INTRO_MD,
  brokenTable,
  glanceNote,
  rankIntroMd,
  rankTable,
  sweepFindings,
  traceTable,
  perVendorFindings,
  vendorItems,
  vendorTable,
  type SweepRow,
} from './compare.js';
import { rankAcrossTraces, type ChartName, type TraceFindings } from './findings.js';
import { escapeHtml as esc, tableHtml } from './format.js';
import { htmlPage } from './page.js';

const DRAW: Record<ChartName, (rows: SweepRow[]) => Promise<Chart>> = {
  hitRate: hitRateChart,
  translationCost: translationCostChart,
  tradeoff: tradeoffChart,
  pageMix: pageMixChart,
};

/**
 * A finding's sentence as HTML: escaped, with its `code` spans as <code>.
 * The sentences carry no untrusted text (findings.ts), so a backtick in one
 * is the finding's own.
 */
function prose(text: string): string {
  return esc(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/**
 * A chart, or the line that replaces it when its values are all equal. The
 * figure carries its number of distinct values so a test can check that no
 * drawn chart is flat.
 */
async function figure(name: ChartName, rows: SweepRow[], flat: string | null): Promise<string> {
  if (flat !== null) return `<p class="flat" data-chart="${name}">${prose(flat)}</p>`;
  const chart = await DRAW[name](rows);
  return `<figure data-chart="${name}" data-distinct="${chart.distinctValues}">${chart.svg}</figure>`;
}

/** A list of per-vendor findings (with several vendors), one item per vendor. */
function vendorList(findings: { vendor: string; text: string }[]): string {
  return `<ul>${vendorItems(findings)
    .map((item) => `<li>${prose(item)}</li>`)
    .join('')}</ul>`;
}

/** A trace's recommendation and trade-off: one paragraph each, or with several vendors a list of each vendor's. */
function findingsHtml(f: TraceFindings): string {
  if (!f.perVendor)
    return (
      `<p class="recommendation"><strong>Recommendation.</strong> ${prose(f.recommendation)}</p>` +
      `<p class="tradeoff"><strong>Strict against lazy.</strong> ${prose(f.tradeoff)}</p>`
    );
  return (
    `<div class="recommendation"><p><strong>Recommendation, per vendor.</strong> ${prose(PER_VENDOR_INTRO_MD)}</p>${vendorList(perVendorFindings(f).recommendations)}</div>` +
    `<div class="tradeoff"><p><strong>Strict against lazy, per vendor.</strong></p>${vendorList(perVendorFindings(f).tradeoffs)}</div>`
  );
}

export async function sweepHtml(rows: SweepRow[], traces: string[], title = 'iommu-replay sweep'): Promise<string> {
  const findings = sweepFindings(rows, traces);
  const sections: string[] = [];
  sections.push(
    `<section id="glance"><h2>At a glance</h2><ul class="recommendations">${findings
      .map((f) =>
        f.perVendor
          ? `<li><strong>${esc(f.trace)}</strong>:${prose(glanceNote(f))}${vendorList(perVendorFindings(f).recommendations)}</li>`
          : `<li><strong>${esc(f.trace)}</strong>: ${prose(f.recommendation + glanceNote(f))}</li>`,
      )
      .join('')}</ul></section>`,
  );
  for (const f of findings) {
    const tr = rows.filter((r) => r.trace === f.trace);
    const charts: string[] = [];
    for (const name of ['hitRate', 'translationCost', 'tradeoff', 'pageMix'] as ChartName[]) {
      // Strict against lazy has no chart with one mode; its sentence says how to get one.
      if (name === 'tradeoff' && !tr.some((r) => r.mode === 'lazy')) continue;
      if (name === 'tradeoff' && !tr.some((r) => r.mode === 'strict')) continue;
      charts.push(`<div class="chart"><h3>${esc(CHART_TITLES[name])}</h3>${await figure(name, tr, f.flat[name])}</div>`);
    }
    sections.push(
      `<section class="trace" id="trace-${esc(f.trace.replace(/[^A-Za-z0-9_-]/g, '_'))}"><h2>${esc(f.trace)}</h2>` +
        (f.broken
          ? `<div class="warning" role="alert"><p><strong>Warning.</strong> ${prose(f.broken.warning)}</p>${tableHtml(brokenTable(f.broken.points))}</div>`
          : '') +
        findingsHtml(f) +
        `<div class="charts">${charts.join('')}</div>` +
        (f.perVendor ? `<h3>${esc(CHART_TITLES.vendors)}</h3><p>${prose(VENDOR_INTRO_MD)}</p>${tableHtml(vendorTable(tr))}` : '') +
        `<details><summary>All points</summary>${tableHtml(traceTable(tr))}</details></section>`,
    );
  }
  if (traces.length > 1) {
    sections.push(
      `<section class="across"><h2>Across traces</h2><p>${prose(rankIntroMd(rows))}</p>${tableHtml(rankTable(rankAcrossTraces(rows, traces)))}</section>`,
    );
  }
  const points = new Set(rows.map((r) => r.point)).size;
  return htmlPage(title, `<p>${traces.length} trace(s) &times; ${points} configuration point(s).</p>`, sections);
}
