// `replay --report FILE.html` writes the report as an HTML page (contract
// report.md: "Markdown or HTML by extension"); any other name, and standard
// output, take Markdown. The page is the Markdown report's content.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTrace } from '../../src/trace/writer.js';
import { runCli, tmpDir } from '../helpers/cli.js';
import { batchOf } from '../helpers/events.js';

const MIXED = path.resolve('traces/mixed.arrows');

/** The text of an HTML fragment: tags dropped, the entities this report uses decoded, white space collapsed. */
function textOf(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('replay --report: HTML by extension', () => {
  it("a .html report is a page with the Markdown report's headings, tables and numbers; .md stays Markdown", () => {
    const d = tmpDir();
    const html = path.join(d, 'r.html');
    const md = path.join(d, 'r.md');
    expect(runCli(['replay', MIXED, '--vendor', 'smmuv3', '--report', html]).status).toBe(0);
    expect(runCli(['replay', MIXED, '--vendor', 'smmuv3', '--report', md]).status).toBe(0);
    const page = fs.readFileSync(html, 'utf8');
    const markdown = fs.readFileSync(md, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(markdown.startsWith('# iommu-replay: vendor=smmuv3\n')).toBe(true);
    expect(page).toContain('<h1>iommu-replay: vendor=smmuv3</h1>');
    const headings = [...markdown.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect([...page.matchAll(/<h2>([^<]*)<\/h2>/g)].map((m) => m[1])).toEqual(headings);
    // Every table of the Markdown, cell for cell (a code span's backticks are the page's <code>).
    const mdTables = markdown.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    const cells = mdTables.flatMap((l) =>
      l
        .slice(2, -2)
        .split(' | ')
        .map((c) => c.replace(/`/g, '')),
    );
    const pageCells = [...page.matchAll(/<t[hd][^>]*>([^]*?)<\/t[hd]>/g)].map((m) => textOf(m[1]));
    expect(pageCells).toEqual(cells);
    expect(pageCells).toContain('TLBI_NH_VA');
    expect(page).toContain('<div class="table-wrap"><table>');
  });

  it("a trace's own text (its workload line) stays text in the page, markup and Markdown alike", async () => {
    const d = tmpDir();
    const trace = path.join(d, 't.arrows');
    const workload = '<script>alert(1)</script> *bold* `code` [link](http://x) & # _';
    await writeTrace(trace, { workload }, [
      batchOf([
        { op: 'attach', device: 0x300, pasid: 0, domain: 1 },
        { op: 'map', domain: 1, iova: 0x1000, paddr: 0x5000, size: 0x1000 },
        { op: 'dma_read', device: 0x300, pasid: 0, iova: 0x1000, size: 64 },
      ]),
    ]);
    const html = path.join(d, 'r.html');
    expect(runCli(['replay', trace, '--report', html]).status).toBe(0);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<em>');
    expect(page).not.toContain('<a ');
    const trace0 = [...page.matchAll(/<p>(Trace: [^]*?)<\/p>/g)].map((m) => textOf(m[1]));
    expect(trace0).toEqual([expect.stringMatching(/^Trace: .*t\.arrows \((.*)\), 3 events over /)]);
    expect(trace0[0]).toContain(`(${workload})`);
  });

  it('standard output and other names take Markdown', () => {
    const d = tmpDir();
    const r = runCli(['replay', MIXED, '--report', '-']);
    expect(r.stdout.startsWith('# iommu-replay: baseline\n')).toBe(true);
    const txt = path.join(d, 'r.txt');
    expect(runCli(['replay', MIXED, '--report', txt]).status).toBe(0);
    expect(fs.readFileSync(txt, 'utf8').startsWith('# iommu-replay: baseline\n')).toBe(true);
  });
});
