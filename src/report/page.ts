// The page every HTML report is written in (sweep: html.ts, curve:
// curve.ts, fit: fit.ts, replay: replay-html.ts): self-contained, no
// scripts, no external resources.
import { escapeHtml as esc } from './format.js';

/**
 * A self-contained page: the title, an intro paragraph and the sections.
 * It reads on a phone: charts are SVGs with a viewBox, scaled down to their
 * column (never wider than the page), and wide tables scroll inside their
 * own box, so the page itself never scrolls sideways.
 */
export function htmlPage(title: string, intro: string, sections: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em;overflow-wrap:break-word}
h1,h2{overflow-wrap:anywhere}
.table-wrap{max-width:100%;overflow-x:auto;margin:.5em 0 1.5em}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
table.text td,table.text th{text-align:left}
table:not(.text) td{white-space:nowrap}
thead{background:#f4f4f4}
figure{margin:0}
figure svg{display:block;max-width:100%;height:auto}
.recommendation{background:#eef6ee;border-left:4px solid #3a3;padding:.5em .8em}
.tradeoff{background:#f4f4fa;border-left:4px solid #88c;padding:.5em .8em}
.warning{background:#fdecea;border-left:4px solid #c33;padding:.1em .8em;margin:1em 0}
.charts{display:flex;flex-wrap:wrap;gap:1em 2em;align-items:flex-start}
.chart{min-width:0;max-width:100%}
.chart h3{margin:.6em 0 .2em;font-size:14px}
.flat{color:#555;font-style:italic}
@media (max-width:600px){body{margin:1em auto;padding:0 .5em}h1{font-size:1.5em}}
</style></head>
<body><h1>${esc(title)}</h1>
${intro}
${sections.join('\n')}
</body></html>
`;
}
