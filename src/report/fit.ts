// `fit` outputs (docs/fit.md): fit.json (candidates best first, with their
// configuration, fitted costs, errors and per-row predictions), the best
// configuration as a file replay and sweep take as it is, and the Markdown and
// HTML reports with a chart of measured against predicted rates.
import type * as vl from 'vega-lite';
import type { CandidateFit, MeasuredRow } from '../run/fit.js';
import { stableStringify } from '../json.js';
import { toolVersion } from '../version.js';
import { chartBase, svgOf } from './charts.js';
import { htmlPage } from './page.js';
import { escapeHtml as esc, fmtPct, mdText, tableHtml, tableMd, type Table } from './format.js';

/** Candidates drawn in the chart and listed in the report's table of predictions. */
export const CHARTED_CANDIDATES = 3;

export interface FitReport {
  /** "fit" (costs fitted per candidate) or "predict" (one fitted configuration, no fitting). */
  kind: 'fit' | 'predict';
  /** The measurements' file, as the user named it. */
  measured: string;
  /** Transactions of each generated trace, and its seed. */
  events: number;
  seed: number;
  rows: MeasuredRow[];
  /** Best first. */
  candidates: CandidateFit[];
  /** The candidates (best first) within `tieMargin` of the best's worst error. */
  ties: string[];
  tieMargin: number;
  /** predict: the fit.json the configuration came from. */
  fitted?: string;
}

/** fit.json: the whole result, stable key order. */
export function fitJson(r: FitReport): string {
  return stableStringify({ version: 1, tool: toolVersion(), ...r });
}

function fmtRate(v: number, unit: string): string {
  const scaled = v >= 1e9 ? `${(v / 1e9).toFixed(3)} G` : v >= 1e6 ? `${(v / 1e6).toFixed(3)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(3)} k` : `${v.toFixed(1)} `;
  return `${scaled}${unit === 'bytes/s' ? 'B/s' : 'T/s'}`;
}

const fmtCost = (ns: number) => `${ns.toFixed(2)} ns`;
const signedPct = (e: number) => `${e >= 0 ? '+' : ''}${(e * 100).toFixed(1)} %`;

function candidatesTable(r: FitReport): Table {
  return {
    header: ['rank', 'candidate', 'worst error', 'median error', 'fixed', 'IOTLB hit', 'walk access', 'walk-cache hit', 'miss cost', 'not separable'],
    rows: r.candidates.map((c, i) => [
      String(i + 1),
      c.label,
      fmtPct(c.worstError, 1),
      fmtPct(c.medianError, 1),
      fmtCost(c.costs.fixedNs),
      fmtCost(c.costs.iotlbHitNs),
      fmtCost(c.costs.walkAccessNs),
      fmtCost(c.costs.walkCacheHitNs),
      fmtCost(c.missCostNs),
      c.notSeparable.join(', ') || '-',
    ]),
  };
}

function predictionsTable(r: FitReport): Table {
  const best = r.candidates.slice(0, CHARTED_CANDIDATES);
  return {
    header: ['line', 'trace', 'measured', ...best.flatMap((c) => [`${c.label}`, 'error', 'hit rate'])],
    rows: r.rows.map((row, i) => [
      String(row.line),
      row.trace,
      fmtRate(row.measured, row.unit),
      ...best.flatMap((c) => [fmtRate(c.predictions[i].predicted, row.unit), signedPct(c.predictions[i].error), fmtPct(c.predictions[i].hitRate, 1)]),
    ]),
  };
}

function summaryLines(r: FitReport): string[] {
  const best = r.candidates[0];
  const lines = [
    r.kind === 'fit'
      ? `${r.candidates.length} candidate(s) fitted to ${r.rows.length} measurement(s) of ${r.measured}. Best: ${best.label}, worst error ${fmtPct(best.worstError, 1)}, median ${fmtPct(best.medianError, 1)}; a miss costs ${fmtCost(best.missCostNs)} over a hit.`
      : `${best.label} from ${r.fitted ?? 'a fit'}, its costs as fitted, predicting ${r.rows.length} measurement(s) of ${r.measured}: worst error ${fmtPct(best.worstError, 1)}, median ${fmtPct(best.medianError, 1)}.`,
  ];
  if (r.kind === 'fit' && r.rows.length <= best.fittedTerms)
    lines.push(
      `Only ${r.rows.length} measurement(s) for ${best.fittedTerms} cost terms: a candidate can fit them exactly, and the ranking tells nothing. Measure more windows.`,
    );
  if (r.kind === 'fit' && r.ties.length > 1)
    lines.push(
      `${r.ties.length} candidates fit within ${fmtPct(r.tieMargin, 1)} of the best worst error: the measurements do not tell ${r.ties.join(', ')} apart.`,
    );
  if (best.notSeparable.length > 0)
    lines.push(`These measurements cannot separate ${best.notSeparable.join(', ')} from the other terms (left at 0; the miss cost is what they determine).`);
  return lines;
}

export function fitMarkdown(r: FitReport, title = `iommu-replay ${r.kind}`): string {
  const out = [`# ${mdText(title)}`, '', ...summaryLines(r).flatMap((l) => [mdText(l), '']), '## Candidates', '', tableMd(candidatesTable(r)), ''];
  out.push('## Measured and predicted', '', tableMd(predictionsTable(r)), '');
  return out.join('\n');
}

/** Measured rates as points, each charted candidate's predictions as a line, in the rows' order. */
export async function fitChart(r: FitReport, width = 560, height = 260): Promise<string> {
  const best = r.candidates.slice(0, CHARTED_CANDIDATES);
  // Rows by their place in the CSV: a trace may appear twice (a read and a write rate).
  const order = r.rows.map((row) => `${row.line}: ${row.trace}`);
  const values = [
    ...r.rows.map((row) => ({ row: `${row.line}: ${row.trace}`, series: 'measured', rate: row.measured })),
    ...best.flatMap((c) => c.predictions.map((p) => ({ row: `${p.line}: ${p.trace}`, series: c.label, rate: p.predicted }))),
  ];
  const units = [...new Set(r.rows.map((row) => row.unit))];
  const series = ['measured', ...best.map((c) => c.label)];
  const spec = {
    ...chartBase,
    data: { values },
    width,
    height,
    encoding: {
      x: { field: 'row', type: 'ordinal', sort: order, title: 'measurement (CSV line: trace)', axis: { labelAngle: -40, labelLimit: 160 } },
      y: { field: 'rate', type: 'quantitative', title: units.length === 1 ? units[0] : 'rate', axis: { format: '~s' } },
      // Measured in black, the candidates in colours (the best first).
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: ['#222', '#e45756', '#4c78a8', '#f58518'] } },
    },
    layer: [
      { mark: { type: 'line', point: false }, transform: [{ filter: "datum.series !== 'measured'" }] },
      { mark: { type: 'point', filled: true, size: 40 }, transform: [{ filter: "datum.series === 'measured'" }] },
    ],
  };
  return svgOf(spec as unknown as vl.TopLevelSpec);
}

export async function fitHtml(r: FitReport, title = `iommu-replay ${r.kind}`): Promise<string> {
  const svg = await fitChart(r);
  const sections = [
    `<section id="chart"><h2>Measured and predicted</h2><figure>${svg}</figure>${tableHtml(predictionsTable(r))}</section>`,
    `<section id="candidates"><h2>Candidates</h2>${tableHtml(candidatesTable(r))}</section>`,
  ];
  return htmlPage(
    title,
    summaryLines(r)
      .map((l) => `<p>${esc(l)}</p>`)
      .join(''),
    sections,
  );
}
