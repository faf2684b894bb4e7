// The example report (README's first command) as a reader sees it: headless
// Debian Chromium, skipped with a visible message where it is absent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = path.resolve('reports/example/report.html');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

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

describe.skipIf(!present)('the example report in headless Chromium', () => {
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
    chromium([`--screenshot=${png}`, '--window-size=1200,1600', `file://${EXAMPLE}`]);
    const head = fs.readFileSync(png).subarray(0, 8);
    expect([...head]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    console.log(`report screenshot: ${png}`);
  });
});
