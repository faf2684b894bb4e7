// A sweep over vendors reads as a comparison (issue 27, reports): each
// vendor's recommendation is made among its own points (an Arm user is never
// handed an AMD point), the same configuration's points line up vendor by
// vendor with commands by their own names, and page-table memory compares
// in bytes, never as pages of different sizes (4 KiB against a 16 or 64 KiB
// granule, model §9.2), in the reports and in `compare`.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS, gridTable, rankTable, sweepMarkdown, traceTable, vendorTable, type SweepRow } from '../../src/report/compare.js';
import { diffCounters, diffTable } from '../../src/report/diff.js';
import { rankAcrossTraces, recommend, traceFindings } from '../../src/report/findings.js';
import { tradeoffChart } from '../../src/report/charts.js';
import { sweepHtml } from '../../src/report/html.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const NAMES: Record<string, (page: number, wait: number) => Record<string, number>> = {
  vtd: (page, wait) => ({ PSI: page, DSI: 0, DEVTLB: 0, WAIT: wait }),
  amd: (page, wait) => ({ INVALIDATE_IOMMU_PAGES: page, INVALIDATE_IOTLB_PAGES: 0, COMPLETION_WAIT: wait }),
  smmuv3: (page, wait) => ({ TLBI_NH_VA: page, TLBI_NH_ASID: 0, ATC_INV: 0, CMD_SYNC: wait }),
};

/** A sweep row of one vendor; `question` pairs it with the same configuration under other vendors. */
function row(p: {
  vendor: string;
  pageSizes: string;
  entries?: number;
  cost: number;
  inv?: number;
  tablePages?: number;
  tablePageBytes?: number;
  page?: number;
  walks?: number;
  faults?: number;
  trace?: string;
}): SweepRow {
  const entries = p.entries ?? 64;
  const question = `${p.pageSizes} ${entries}x4`;
  const tablePages = p.tablePages ?? 6;
  const tablePageBytes = p.tablePageBytes ?? 4096;
  const walks = p.walks ?? 100;
  return {
    trace: p.trace ?? 't',
    point: `${question} vendor=${p.vendor}`,
    pageSizes: p.pageSizes,
    pageSizeCount: { 'intel-vtd': 3, 'amd-v1': 35 }[p.pageSizes] ?? p.pageSizes.split(/[|+,]/).length,
    variant: '',
    iotlbEntries: entries,
    iotlbWays: 4,
    policy: 'lru',
    mode: 'strict',
    vendor: p.vendor,
    question,
    tablePageBytes,
    commandsByName: NAMES[p.vendor](p.page ?? 10, p.page ?? 10),
    metrics: {
      ...Object.fromEntries(METRICS.map((m) => [m.key, null])),
      iotlbHitRate: 0.5,
      translationCostNs: p.cost,
      invalidationCostNs: p.inv ?? 1000,
      staleHits: 0,
      staleWindowMaxNs: 0,
      walkAccesses: walks * (tablePageBytes === 65536 ? 3 : 4),
      peakTablePages: tablePages,
    },
    mapPages: { '4K': 10 },
    dmaEvents: 100,
    counts: {
      dma_faults: p.faults ?? 0,
      map_errors: 0,
      walks,
      invalidation_syncs: p.page ?? 10,
      peak_table_bytes: tablePages * tablePageBytes,
    },
  };
}

/** AMD's amd-v1 is the cheapest of all; each vendor has a cheap and a dear bitmap of its own. */
const MIXED = [
  row({ vendor: 'vtd', pageSizes: 'intel-vtd', cost: 2e6 }),
  row({ vendor: 'vtd', pageSizes: '4K', cost: 3e6 }),
  row({ vendor: 'amd', pageSizes: 'amd-v1', cost: 1e6 }),
  row({ vendor: 'amd', pageSizes: 'amd-v2', cost: 2.5e6 }),
  row({ vendor: 'smmuv3', pageSizes: 'arm-smmu-4k', cost: 4e6 }),
  row({ vendor: 'smmuv3', pageSizes: 'arm-smmu-16k', cost: 3e6, tablePages: 4, tablePageBytes: 16384 }),
];

describe('the recommendation of a sweep over vendors is made per vendor, never pooled', () => {
  it("each vendor's pick is among its own points: the Arm pick is an Arm bitmap, though AMD's is cheaper", () => {
    const f = traceFindings(MIXED, 't');
    expect(f.perVendor!.map((p) => p.vendor)).toEqual(['vtd', 'amd', 'smmuv3']);
    const pick = Object.fromEntries(f.perVendor!.map((p) => [p.vendor, p.recommendation]));
    expect(pick.vtd).toMatch(/^A 64x4 IOTLB with page sizes intel-vtd comes within 5% of the best translation cost, 2\.00 ms against 2\.00 ms/);
    expect(pick.amd).toMatch(/^A 64x4 IOTLB with page sizes amd-v1 comes within 5%/);
    expect(pick.smmuv3).toMatch(/^A 64x4 IOTLB with page sizes arm-smmu-16k comes within 5% of the best translation cost, 3\.00 ms against 3\.00 ms/);
    for (const [vendor, text] of Object.entries(pick)) {
      const others = MIXED.filter((r) => r.vendor !== vendor).map((r) => r.pageSizes);
      for (const o of others) expect(text, `${vendor} names ${o}`).not.toContain(o);
    }
    // recommend() on the pooled rows says the same, vendor by vendor.
    expect(recommend(MIXED)).toBe(`\`vtd\`: ${pick.vtd} \`amd\`: ${pick.amd} \`smmuv3\`: ${pick.smmuv3}`);
  });

  it('a vendor whose every point is broken gets no pick, whatever the other vendors have', () => {
    const rows = [row({ vendor: 'amd', pageSizes: 'amd-v1', cost: 1e6 }), row({ vendor: 'smmuv3', pageSizes: 'arm-smmu-64k', cost: 0, faults: 100 })];
    const f = traceFindings(rows, 't');
    expect(f.perVendor![1].recommendation).toMatch(/^No recommendation: every point has DMA faults or map errors/);
    expect(f.perVendor![0].recommendation).toBe(
      'One working point to choose from: 64x4 with amd-v1, at a translation cost of 1.00 ms; sweep more IOTLB sizes or page-size bitmaps to compare.',
    );
  });

  it('report.md and report.html list each vendor, and vendors that came to the same pick share one item', async () => {
    const md = sweepMarkdown(MIXED, ['t']);
    expect(md).toContain('**Recommendation, per vendor.** ');
    expect(md).toContain('- `smmuv3` (Arm SMMUv3): A 64x4 IOTLB with page sizes arm-smmu-16k');
    expect(md).toContain('  - `amd` (AMD-Vi): A 64x4 IOTLB with page sizes amd-v1'); // at a glance
    expect(md).not.toContain('**Recommendation.**');
    expect(md).toContain('- `vtd` (Intel VT-d), `amd` (AMD-Vi) and `smmuv3` (Arm SMMUv3) alike: Only strict invalidation was run');
    const html = await sweepHtml(MIXED, ['t']);
    expect(html).toContain('<li><code>smmuv3</code> (Arm SMMUv3): A 64x4 IOTLB with page sizes arm-smmu-16k');
    expect(html).toContain('<strong>Recommendation, per vendor.</strong>');
  });

  it("ranks across traces are within a vendor: AMD's cheaper point does not push the others down", () => {
    const rows = [...MIXED, ...MIXED.map((r) => ({ ...r, trace: 'u' }))];
    const t = rankTable(rankAcrossTraces(rows, ['t', 'u']));
    const cell = (point: string) => t.rows.find((r) => r[0] === point)!.slice(1);
    expect(cell('intel-vtd 64x4 vendor=vtd')).toEqual(['2.00 ms (1)', '2.00 ms (1)', '1.0']);
    expect(cell('arm-smmu-16k 64x4 vendor=smmuv3')).toEqual(['3.00 ms (1)', '3.00 ms (1)', '1.0']);
    expect(cell('arm-smmu-4k 64x4 vendor=smmuv3')).toEqual(['4.00 ms (2)', '4.00 ms (2)', '2.0']);
    expect(sweepMarkdown(rows, ['t', 'u'])).toContain("its rank there among its own vendor's points");
  });
});

describe('the points of one configuration line up vendor by vendor', () => {
  const rows = ['vtd', 'amd', 'smmuv3'].flatMap((vendor) => [
    row({ vendor, pageSizes: '4K', cost: 1e6, inv: vendor === 'amd' ? 500 : 1000, page: vendor === 'amd' ? 5 : 10 }),
    row({ vendor, pageSizes: '4K+2M', cost: 1e6, walks: 50 }),
  ]);

  it('walks with accesses per walk, commands by their own names, syncs, cost against VT-d, table memory in bytes', () => {
    const t = vendorTable(rows);
    expect(t.header).toEqual([
      'point',
      'vendor',
      'IOTLB hit rate',
      'walks (accesses per walk)',
      'invalidation commands',
      'syncs',
      'invalidation cost',
      'against VT-d',
      'peak table memory',
    ]);
    expect(t.rows.map((r) => r[0])).toEqual([
      '4K 64x4 vendor=vtd',
      '4K 64x4 vendor=amd',
      '4K 64x4 vendor=smmuv3',
      '4K+2M 64x4 vendor=vtd',
      '4K+2M 64x4 vendor=amd',
      '4K+2M 64x4 vendor=smmuv3',
    ]);
    expect(t.rows[0]).toEqual([
      '4K 64x4 vendor=vtd',
      'vtd (Intel VT-d)',
      '50.00%',
      '100 (4.00)',
      '10 PSI, 10 WAIT',
      '10',
      '1.00 µs',
      '',
      '24.0 KiB (6 × 4.0 KiB)',
    ]);
    expect(t.rows[1].slice(4, 8)).toEqual(['5 INVALIDATE_IOMMU_PAGES, 5 COMPLETION_WAIT', '5', '500 ns', '−50.0%']);
    expect(t.rows[2].slice(4, 8)).toEqual(['10 TLBI_NH_VA, 10 CMD_SYNC', '10', '1.00 µs', '=']);
    expect(sweepMarkdown(rows, ['t'])).toContain('### Vendors side by side');
  });

  it('a single-vendor sweep has no such section', () => {
    expect(
      sweepMarkdown(
        rows.filter((r) => r.vendor === 'vtd'),
        ['t'],
      ),
    ).not.toContain('Vendors side by side');
  });
});

describe("strict against lazy's chart", () => {
  it("shapes each point by its vendor when there are several, and is one vendor's chart as before otherwise", async () => {
    const rows = ['vtd', 'smmuv3'].flatMap((vendor) => [
      row({ vendor, pageSizes: '4K', cost: 1e6, inv: 3e6 }),
      { ...row({ vendor, pageSizes: '4K', cost: 1e6, inv: vendor === 'vtd' ? 1e4 : 2e4 }), mode: 'lazy', point: `4K lazy ${vendor}` },
    ]);
    expect((await tradeoffChart(rows)).svg).toMatch(/>vendor<\/text>/);
    expect((await tradeoffChart(rows.filter((r) => r.vendor === 'vtd'))).svg).not.toMatch(/>vendor<\/text>/);
  });
});

describe('the grids of a sweep over presets of different vendors', () => {
  it('have no line for a bitmap that never ran under a vendor (amd-v1 under smmuv3)', () => {
    const t = gridTable(MIXED, 'translationCostNs');
    expect(t.rows.map((r) => `${r[0]} | ${r[1]}`)).toEqual([
      'intel-vtd | strict',
      '4K | strict',
      'amd-v1 | strict amd',
      'amd-v2 | strict amd',
      'arm-smmu-4k | strict smmuv3',
      'arm-smmu-16k | strict smmuv3',
    ]);
  });
});

describe('table memory in bytes when table pages differ in size', () => {
  it('All points gives each page count its page size and a column of bytes', () => {
    const t = traceTable(MIXED);
    const pages = t.header.indexOf('peak table pages');
    expect(t.header[pages + 1]).toBe('peak table memory');
    const r16 = t.rows.find((r) => r[0] === 'arm-smmu-16k 64x4 vendor=smmuv3')!;
    expect(r16.slice(pages, pages + 2)).toEqual(['4 × 16.0 KiB', '64.0 KiB']);
    const rVtd = t.rows.find((r) => r[0] === 'intel-vtd 64x4 vendor=vtd')!;
    expect(rVtd.slice(pages, pages + 2)).toEqual(['6 × 4.0 KiB', '24.0 KiB']);
  });

  it('pages of one size stay a plain count, as before vendors', () => {
    const t = traceTable(MIXED.filter((r) => r.tablePageBytes === 4096));
    expect(t.header).not.toContain('peak table memory');
    expect(t.rows[0][t.header.indexOf('peak table pages')]).toBe('6');
  });
});

describe('compare never sets pages of one size against pages of another', () => {
  const S = path.resolve('reports/example/summaries/nic/pageSizes=4K_iotlb=32x4_invalidation.mode=strict.json');
  const load = () => JSON.parse(fs.readFileSync(S, 'utf8'));

  it('a 64K granule against 4 KiB pages: the page counts with their sizes and no difference; the bytes compared', () => {
    const a = load();
    const b = load();
    b.config.vendor = 'smmuv3';
    b.config.pageSizes = ['64K'];
    b.config.iommus = b.config.iommus.map((m: { name: string }) => ({ ...m, pageSizes: ['64K'] }));
    b.totals.pageTable = { peakTablePages: 3 }; // as a summary written before peakTableBytes: made from the granule
    const { differ } = diffCounters(a, b);
    const pages = differ.find((d) => d.counter === 'totals.pageTable.peakTablePages')!;
    expect(pages.unitBytes).toEqual({ a: 4096, b: 65536 });
    const bytes = differ.find((d) => d.counter === 'totals.pageTable.peakTableBytes')!;
    expect([bytes.a, bytes.b]).toEqual([a.totals.pageTable.peakTablePages * 4096, 3 * 65536]);
    const table = diffTable(differ);
    expect(table).toContain(
      `| totals.pageTable.peakTablePages | ${a.totals.pageTable.peakTablePages} × 4.0 KiB | 3 × 64.0 KiB |  | pages differ in size: see totals.pageTable.peakTableBytes |`,
    );
    // The same page count under two sizes is still no "equal".
    b.totals.pageTable.peakTablePages = a.totals.pageTable.peakTablePages;
    expect(diffCounters(a, b).differ.some((d) => d.counter === 'totals.pageTable.peakTablePages')).toBe(true);
  });

  it('pages of the same size compare as before', () => {
    const a = load();
    const b = load();
    b.totals.pageTable.peakTablePages += 1;
    const pages = diffCounters(a, b).differ.find((d) => d.counter === 'totals.pageTable.peakTablePages')!;
    expect(pages.unitBytes).toBeUndefined();
    expect(pages.b! - pages.a!).toBe(1);
  });

  it('on the command line, two real replays: smmuv3 with a 64K granule against VT-d', () => {
    const d = tmpDir();
    const trace = path.join(d, 'w.arrows');
    expect(runCli(['gen', 'window', '--window', '4M', '--events', '2000', '-o', trace]).status).toBe(0);
    const vtd = path.join(d, 'vtd.json');
    const arm = path.join(d, 'arm.json');
    expect(runCli(['replay', trace, '--json', vtd]).status).toBe(0);
    expect(runCli(['replay', trace, '--vendor', 'smmuv3', '--page-sizes', '64K', '--json', arm]).status).toBe(0);
    const [sv, sa] = [vtd, arm].map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
    expect(sa.totals.pageTable.peakTableBytes).toBe(sa.totals.pageTable.peakTablePages * 65536);
    expect(sv.totals.pageTable.peakTableBytes).toBe(sv.totals.pageTable.peakTablePages * 4096);
    const r = runCli(['compare', vtd, arm]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('vendors: A vtd, B smmuv3 (each counts its commands by its own names)');
    expect(r.stdout).toContain(
      `| totals.pageTable.peakTablePages | ${sv.totals.pageTable.peakTablePages} × 4.0 KiB | ${sa.totals.pageTable.peakTablePages} × 64.0 KiB |  | pages differ in size`,
    );
    expect(r.stdout).toContain(`| totals.pageTable.peakTableBytes | ${sv.totals.pageTable.peakTableBytes} | ${sa.totals.pageTable.peakTableBytes} |`);
  }, 120_000);
});

describe("docs/vendors.md's examples", () => {
  const doc = fs.readFileSync('docs/vendors.md', 'utf8');
  /** The words after `npx iommu-replay` on the doc's line that starts with `start`. */
  const command = (start: string): string[] => {
    const line = doc.split('\n').find((l) => l.startsWith(`npx iommu-replay ${start}`))!;
    return line.slice('npx iommu-replay '.length).trim().split(/\s+/);
  };

  it('the sweep over vendors regenerates reports/vendors/ byte for byte, and the page quotes its report', () => {
    const args = command('sweep traces/');
    const out = path.join(tmpDir(), 'vendors');
    args[args.indexOf('--out') + 1] = out;
    const r = runCli([...args, '--jobs', '2']);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/warning/i);
    for (const f of ['report.md', 'report.html', 'results.arrow'])
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join('reports/vendors', f))), f).toBe(true);
    const md = fs.readFileSync('reports/vendors/report.md', 'utf8');
    const quoted = doc.split('\n').filter((l) => l.startsWith('| pageSizes=') || l.startsWith('  - `vtd`') || l.startsWith('- **nic**'));
    expect(quoted.length).toBe(8);
    for (const l of quoted) expect(md).toContain(l);
  }, 300_000);

  it("the granule table is the granule sweep's numbers", () => {
    const d = tmpDir();
    const gen = command('gen window');
    gen[gen.indexOf('-o') + 1] = path.join(d, 'w64m.arrows');
    expect(runCli(gen).status).toBe(0);
    const sweep = command('sweep w64m.arrows');
    sweep[1] = path.join(d, 'w64m.arrows');
    sweep[sweep.indexOf('--out') + 1] = path.join(d, 'granules');
    expect(runCli([...sweep, '--quiet', '--jobs', '2']).status).toBe(0);
    const rows = doc.split('\n').filter((l) => /^\| [0-9KMG+]+ \| \d/.test(l));
    expect(rows.length).toBe(6);
    for (const l of rows) {
      const [sizes, , walks, perWalk, memory, hit] = l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      const s = JSON.parse(fs.readFileSync(path.join(d, 'granules/summaries/w64m', `pageSizes=${sizes}_vendor=smmuv3.json`), 'utf8'));
      const T = s.totals;
      expect(walks, sizes).toBe(T.walks.count.toLocaleString('en-US'));
      expect(perWalk, sizes).toBe((T.walks.memoryAccesses / T.walks.count).toFixed(2));
      expect(memory.startsWith(`${(T.pageTable.peakTableBytes / 1024).toFixed(1)} KiB (${T.pageTable.peakTablePages} × `), sizes).toBe(true);
      expect(hit, sizes).toBe(`${(T.iotlb.hitRate * 100).toFixed(2)}%`);
    }
  }, 300_000);
});
