// Untrusted text (trace and file names, configuration and point names,
// workload, topology names) goes into each output through that output's one
// escaping function: mdText for Markdown, escapeHtml for HTML, printable for
// the terminal (issue: report.md carried raw HTML and Markdown from
// iommu.workload and topology names).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS, sweepMarkdown, type SweepRow } from '../../src/report/compare.js';
import { escapeHtml, mdTable, mdText, tableMd } from '../../src/report/format.js';
import { sweepHtml } from '../../src/report/html.js';
import { printable } from '../../src/text.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const HOSTILE = [
  '<script>alert(1)</script>',
  'a|b',
  '`code`',
  'two\nlines',
  '[x](javascript:alert(1))',
  '![i](x)',
  '\x1b[31mred\x1b[0m',
  '*em* _em_ ~~s~~',
  '&lt;',
  '# h #',
  'back\\slash',
];
const ALL = HOSTILE.join(' ');

/** What a CommonMark reader sees of escaped inline text: backslash escapes resolved. */
const unescapeMd = (s: string) => s.replace(/\\([!-/:-@[-`{-~])/g, '$1');

describe('mdText: Markdown inline text that renders as itself', () => {
  it.each(HOSTILE)('%j: one line, no raw markup, and it reads back', (h) => {
    const md = mdText(h);
    expect(md).not.toMatch(/[\n\r\x1b]/);
    // Every markup character is preceded by a backslash.
    expect(md.replace(/\\[\\`*_[\]<>&~#]/g, '')).not.toMatch(/[\\`*_[\]<>&~#]/);
    expect(unescapeMd(md)).toBe(printable(h, Infinity));
  });

  it('a cell keeps its | escaped exactly once, whatever backslashes precede it', () => {
    expect(mdTable(['h'], [[mdText('a|b')]])).toContain('| a\\|b |');
    expect(mdTable(['h'], [[mdText('a\\|b')]])).toContain('| a\\\\\\|b |');
    expect(tableMd({ header: ['<b>'], rows: [['x|`y`']] })).toBe('| \\<b\\> |\n| --- |\n| x\\|\\`y\\` |');
  });
});

describe('escapeHtml', () => {
  it('markup characters as entities, control characters as \\xNN', () => {
    expect(escapeHtml(`<script>"'&\n\x1b`)).toBe('&lt;script&gt;&quot;&#39;&amp;\\x0a\\x1b');
  });
});

function row(trace: string, point: string, cost: number): SweepRow {
  return {
    trace,
    point,
    pageSizes: '4K',
    pageSizeCount: 1,
    variant: '',
    iotlbEntries: cost,
    iotlbWays: 4,
    policy: 'lru',
    mode: 'strict',
    metrics: {
      ...Object.fromEntries(METRICS.map((m) => [m.key, null])),
      iotlbHitRate: 0.5,
      translationCostNs: cost * 1000,
      invalidationCostNs: 0,
      staleHits: 0,
      staleWindowMaxNs: 0,
    },
    mapPages: { '4K': 1 },
    dmaEvents: 1,
    counts: { dma_faults: 0, map_errors: 0 },
  };
}

describe('sweep reports with hostile trace and point names', () => {
  const traces = [`t1 ${ALL}`, `t2 ${ALL}`];
  const rows = traces.flatMap((t) => [row(t, `p1 ${ALL}`, 32), row(t, `p2 ${ALL}`, 64)]);

  it('report.md: no raw HTML, link, code span, control character or line break from a name', () => {
    const md = sweepMarkdown(rows, traces, `title ${ALL}`);
    expect(md).not.toMatch(/(?<!\\)<(script|\/script)/);
    expect(md).not.toMatch(/(?<!\\)\[x(?<!\\)\]\(javascript/);
    expect(md).not.toMatch(/(?<!\\)`code(?<!\\)`/);
    expect(md).not.toContain('\x1b');
    expect(md).not.toContain('two\nlines');
    expect(md).toContain(`## t1 ${mdText(ALL)}`);
    expect(md).toContain(`- **t1 ${mdText(ALL)}**:`);
    // In tables, | too.
    expect(md).toContain(`| p1 ${mdText(ALL).replace(/\|/g, '\\|')} |`);
  });

  it('report.html: names only as text', async () => {
    const html = await sweepHtml(rows, traces, `title ${ALL}`);
    expect(html).not.toMatch(/<script|<\/script|\x1b|two\nlines/);
    expect(html).toContain(`<h2>t1 ${escapeHtml(ALL)}</h2>`);
    expect(html).toContain(escapeHtml(`p1 ${ALL}`));
  });
});

describe('replay --report on a trace whose metadata carries HTML and Markdown', () => {
  it('the workload and the instance name are escaped', () => {
    const d = tmpDir();
    const report = path.join(d, 'r.md');
    const r = runCli(['replay', path.resolve('test/report/fixtures/report-md-html-injection-metadata.arrows'), '--report', report]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const md = fs.readFileSync(report, 'utf8');
    expect(md).not.toMatch(/(?<!\\)<(script|img)/);
    expect(md).not.toMatch(/(?<!\\)\]\(javascript/);
    expect(md).toContain('\\<script\\>alert(1)\\</script\\>');
    expect(md).toContain('\\<img src=x onerror=alert(1)\\> \\[x\\](javascript:alert(1))');
  });
});

describe('messages on the terminal', () => {
  it('a file name with a newline and an escape sequence stays one line without the escape', () => {
    const d = tmpDir();
    const name = path.join(d, 'a\nb\x1b[31m.arrows');
    fs.writeFileSync(name, 'not a trace');
    const r = runCli(['replay', name]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('a\\x0ab\\x1b[31m.arrows');
  });
});
