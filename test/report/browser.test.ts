// The example report (README's first command) as a reader sees it: headless
// Debian Chromium, skipped with a visible message where it is absent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { runCli, tmpDir } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = path.resolve('reports/example/report.html');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

const present = fs.existsSync(CHROMIUM);
if (!present) console.warn(`SKIPPED: the report's browser check needs Debian's chromium (${CHROMIUM}); apt-get install chromium`);

function chromium(args: string[]): { stdout: string; stderr: string; status: number | null } {
  return spawnSync(CHROMIUM, [...FLAGS, `--user-data-dir=${tmpDir()}`, '--enable-logging=stderr', '--v=0', ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** The distinct geometries of a chart's marks: a flat chart draws every mark alike. */
function markShapes(svg: string): Set<string> {
  const shapes = new Set<string>();
  for (const g of svg.matchAll(/<g class="mark-(?:symbol|rect|line)[^"]*"[^>]*>([\s\S]*?)<\/g>/g)) {
    for (const p of g[1].matchAll(/<path ([^>]*)>/g)) shapes.add(p[1].replace(/\s*(fill|stroke|opacity|fill-opacity|stroke-opacity)="[^"]*"/g, ''));
  }
  return shapes;
}

/**
 * The page's width and the width it lays out to, at `width` CSS pixels with
 * every <details> open. Headless Chromium will not make a window narrower
 * than 500 px, so the page is loaded in an iframe of that width (a file page
 * may read another with --allow-file-access-from-files) and the frame's
 * numbers are written into the outer page's DOM for --dump-dom.
 */
function widthsAt(report: string, width: number): { scrollWidth: number; innerWidth: number } {
  const dir = tmpDir();
  const frame = path.join(dir, 'frame.html');
  fs.writeFileSync(
    frame,
    `<!doctype html><html><body style="margin:0"><iframe src="${pathToFileURL(report).href}" style="border:0;width:${width}px;height:2000px" onload="const w = this.contentWindow; for (const d of w.document.querySelectorAll('details')) d.open = true; document.body.dataset.widths = w.document.documentElement.scrollWidth + '/' + w.innerWidth"></iframe></body></html>`,
  );
  const r = chromium(['--allow-file-access-from-files', '--window-size=800,2000', '--dump-dom', pathToFileURL(frame).href]);
  const m = /data-widths="(\d+)\/(\d+)"/.exec(r.stdout);
  if (!m) throw new Error(`no widths from Chromium: ${r.stderr.slice(0, 500)}`);
  return { scrollWidth: Number(m[1]), innerWidth: Number(m[2]) };
}

describe.skipIf(!present)('the example report in headless Chromium', () => {
  it('reads on a phone: at 420 px neither the sweep report nor a curve report scrolls sideways (issue: charts ran off the right edge)', () => {
    expect(widthsAt(EXAMPLE, 420)).toEqual({ scrollWidth: 420, innerWidth: 420 });
    const out = path.join(tmpDir(), 'curve');
    const traces = ['nic', 'nvme', 'sva'].map((t) => path.resolve(`traces/${t}.arrows`));
    expect(
      runCli([
        'curve',
        ...traces,
        '--page-sizes',
        '4K',
        '4K,2M',
        '--mode',
        'strict',
        'lazy',
        '--max-entries',
        '64',
        '--max-groups',
        '4',
        '--quiet',
        '--out',
        out,
      ]).status,
    ).toBe(0);
    const curve = path.join(out, 'report.html');
    expect(widthsAt(curve, 420)).toEqual({ scrollWidth: 420, innerWidth: 420 });
    // Six panels (three traces, two modes) at 1400 px: no scrolling either.
    expect(widthsAt(curve, 1400)).toEqual({ scrollWidth: 1400, innerWidth: 1400 });
  });

  it('loads with no console errors, every chart has two or more distinct values, and the recommendation is there', () => {
    const r = chromium(['--dump-dom', `file://${EXAMPLE}`]);
    expect(r.stderr).not.toMatch(/CONSOLE|Uncaught|Refused to|ERR_/);
    const dom = r.stdout;
    expect(dom).toContain('<section id="glance">');
    for (const trace of ['nic', 'nvme', 'gpu']) expect(dom).toMatch(new RegExp(`<li><strong>${trace}</strong>: (A \\d+x\\w+ IOTLB|All equal)`));
    const figures = [...dom.matchAll(/<figure data-chart="(\w+)" data-distinct="(\d+)">([\s\S]*?)<\/figure>/g)];
    expect(figures.length).toBeGreaterThan(3);
    for (const [, name, distinct, svg] of figures) {
      expect(Number(distinct), name).toBeGreaterThanOrEqual(2);
      expect(markShapes(svg).size, name).toBeGreaterThanOrEqual(2);
    }
  });

  it('takes a screenshot', () => {
    const png = path.join(tmpDir(), 'report.png');
    chromium([`--screenshot=${png}`, '--window-size=1400,1300', `file://${EXAMPLE}`]);
    const head = fs.readFileSync(png).subarray(0, 8);
    expect([...head]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    console.log(`report screenshot: ${png}`);
  });
});
