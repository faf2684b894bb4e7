// docs/vendors.md's NIC and NVMe granule table (issue 27's closing question:
// what a 16K or 64K granule changes in walks and table memory) is what its
// own commands give: the gen --granule lines run, the three sweeps run, and
// every cell is read back from the summaries.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/cli.js';

const doc = fs.readFileSync('docs/vendors.md', 'utf8');
const section = doc.slice(doc.indexOf('### On the NIC and NVMe workloads'));
/** The doc's command lines in that section that start with `npx iommu-replay <start>`, as words. */
const commands = (start: string): string[][] =>
  section
    .split('\n')
    .filter((l) => l.startsWith(`npx iommu-replay ${start}`))
    .map((l) => l.slice('npx iommu-replay '.length).trim().split(/\s+/));

/** As the table writes a cost: ms from 1 ms, else µs. */
const duration = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`);

describe("docs/vendors.md's NIC and NVMe granule table", () => {
  it('every cell is the sweep of its commands', () => {
    const d = tmpDir();
    const gens = commands('gen ');
    expect(gens.length).toBe(4);
    for (const g of gens) {
      g[g.indexOf('-o') + 1] = path.join(d, g[g.indexOf('-o') + 1]);
      expect(runCli(g).status).toBe(0);
    }
    const sweeps = commands('sweep ');
    expect(sweeps.length).toBe(3);
    const outOf: Record<string, string> = {};
    for (const s of sweeps) {
      const out = path.join(d, s[s.indexOf('--out') + 1]);
      s[s.indexOf('--out') + 1] = out;
      for (const i of [1, 2]) {
        if (!s[i].startsWith('traces/')) s[i] = path.join(d, s[i]);
        outOf[path.basename(s[i], '.arrows')] = out;
      }
      expect(runCli([...s, '--quiet', '--jobs', '2']).status).toBe(0);
    }
    const rows = section.split('\n').filter((l) => /^\| (nic|nvme) \| /.test(l));
    expect(rows.length).toBe(12);
    for (const l of rows) {
      const [trace, sizes, walks, perWalk, hit, memory, tlbi, sync, cost, translation, mapped] = l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      const granule = sizes.split('+')[0];
      const name = granule === '4K' ? trace : `${trace}-${granule.toLowerCase()}`;
      const file = path.join(outOf[name], 'summaries', name, `pageSizes=${sizes}_vendor=smmuv3.json`);
      const T = JSON.parse(fs.readFileSync(file, 'utf8')).totals;
      const at = `${trace} ${sizes}`;
      expect(T.map.errors, at).toBe(0);
      expect(T.dma.faults, at).toBe(0);
      expect(walks, at).toBe(T.walks.count.toLocaleString('en-US'));
      expect(perWalk, at).toBe((T.walks.memoryAccesses / T.walks.count).toFixed(2));
      expect(hit, at).toBe(`${(T.iotlb.hitRate * 100).toFixed(2)}%`);
      const pageKiB = T.pageTable.peakTableBytes / T.pageTable.peakTablePages / 1024;
      expect(memory, at).toBe(`${(T.pageTable.peakTableBytes / 1024).toFixed(1)} KiB (${T.pageTable.peakTablePages} × ${pageKiB} KiB)`);
      expect(tlbi, at).toBe(T.invalidation.commands.byName.TLBI_NH_VA.toLocaleString('en-US'));
      expect(sync, at).toBe(T.invalidation.commands.byName.CMD_SYNC.toLocaleString('en-US'));
      expect(cost, at).toBe(duration(T.costNs.invalidation));
      expect(translation, at).toBe(duration(T.costNs.translation));
      expect(mapped, at).toBe(T.map.bytes.toLocaleString('en-US'));
    }
  }, 300_000);
});
