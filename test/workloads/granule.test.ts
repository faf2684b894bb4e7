// gen --granule (issue 27's granule question): the DMA-API workloads map as
// dma-iommu does with a 16K or 64K IOVA granule (__iommu_dma_map(),
// iommu_dma_map_sg(): the offset inside the first granule is kept, the length
// rounded up to whole granules, IOVAs allocated in granules), and the default
// 4K gives the traces it gave before the option existed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { replayTrace } from '../../src/run/run.js';
import { u64, type EventBatch } from '../../src/trace/batch.js';
import { openTrace } from '../../src/trace/merge.js';
import { Op } from '../../src/trace/schema.js';
import { DmaDomain, dmaAddress, dmaBuffer } from '../../src/workloads/dmaapi.js';
import { findWorkload, generate } from '../../src/workloads/index.js';
import { PhysAllocator } from '../../src/workloads/phys.js';
import { Rng } from '../../src/workloads/rng.js';
import { Sim } from '../../src/workloads/sim.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const K64 = 65536;

interface Row {
  op: number;
  iova: number;
  paddr: number;
  size: number;
}

/** A domain of `granule` whose emitted rows land in `rows` once `sim.run()` flushes. */
function domainOf(granule: number) {
  const rows: Row[] = [];
  const sim = new Sim(
    {
      flush: (b: EventBatch) => {
        for (let i = 0; i < b.length; i++) rows.push({ op: b.op[i], iova: u64(b.iova, i), paddr: u64(b.paddr, i), size: u64(b.size, i) });
      },
    },
    1000,
  );
  const dom = new DmaDomain(sim, 1, new PhysAllocator(new Rng(1), 0), granule);
  return { sim, dom, rows };
}

describe('a DMA-API buffer under a 64K IOVA granule', () => {
  it('a 1500-byte NIC buffer maps one 64K page at a 64K-aligned IOVA; the device addresses the buffer at its offset in the granule', async () => {
    const { sim, dom, rows } = domainOf(K64);
    // The buffer: 1500 bytes at byte 0x40 of the 4 KiB page 3 of a 64 KiB granule.
    const pfn = 0x100003;
    const m = dom.map([{ pfn, pages: 1 }]);
    dmaBuffer(sim, false, 0x300, m, 0x40, 1500);
    dom.unmap(m);
    await sim.run();
    const granuleStart = 0x100000 * 4096;
    expect(rows).toEqual([
      { op: Op.Map, iova: m.iova, paddr: granuleStart, size: K64 },
      { op: Op.DmaRead, iova: m.iova + 3 * 4096 + 0x40, paddr: 0, size: 1500 },
      { op: Op.Unmap, iova: m.iova, paddr: 0, size: K64 },
    ]);
    expect(m.iova % K64).toBe(0);
    // Below 4 GiB, top-down from DMA_BIT_MASK(32) >> 16 in granules (pci_32bit_workaround), as the
    // 4K allocator's first page is 0xffffe (the allocator's test): (limit - size) & align_mask.
    expect(m.iova).toBe(0xfffe * K64);
  });

  it('two buffers in one granule page each get their own IOVA range of a whole granule', async () => {
    const { sim, dom, rows } = domainOf(K64);
    const a = dom.map([{ pfn: 0x100000, pages: 1 }]);
    const b = dom.map([{ pfn: 0x100001, pages: 1 }]);
    await sim.run();
    expect(a.iova).not.toBe(b.iova);
    expect(rows.map((r) => [r.paddr, r.size])).toEqual([
      [0x100000 * 4096, K64],
      [0x100000 * 4096, K64],
    ]);
    expect(dmaAddress(b, 0)).toBe(b.iova + 4096);
  });

  it('scatter-gather: each entry is rounded to granules on its own, and a DMA across two entries is one access per IOVA-contiguous piece', async () => {
    const { sim, dom, rows } = domainOf(K64);
    // Two scattered 4 KiB pages: page 5 of one granule, page 0 of another.
    const m = dom.map([
      { pfn: 0x200005, pages: 1 },
      { pfn: 0x300000, pages: 1 },
    ]);
    dmaBuffer(sim, true, 0x100, m, 4096 - 16, 32);
    await sim.run();
    expect(m.size).toBe(2 * K64);
    expect(rows).toEqual([
      { op: Op.Map, iova: m.iova, paddr: 0x200000 * 4096, size: K64 },
      { op: Op.Map, iova: m.iova + K64, paddr: 0x300000 * 4096, size: K64 },
      { op: Op.DmaWrite, iova: m.iova + 5 * 4096 + 4096 - 16, paddr: 0, size: 16 },
      { op: Op.DmaWrite, iova: m.iova + K64, paddr: 0, size: 16 },
    ]);
  });

  it('under a 4K granule the same buffers map page by page and a DMA is one access, as before the option', async () => {
    const { sim, dom, rows } = domainOf(4096);
    const m = dom.map([
      { pfn: 0x200005, pages: 1 },
      { pfn: 0x300000, pages: 1 },
    ]);
    dmaBuffer(sim, true, 0x100, m, 4096 - 16, 32);
    await sim.run();
    expect(rows).toEqual([
      { op: Op.Map, iova: m.iova, paddr: 0x200005 * 4096, size: 4096 },
      { op: Op.Map, iova: m.iova + 4096, paddr: 0x300000 * 4096, size: 4096 },
      { op: Op.DmaWrite, iova: m.iova + 4096 - 16, paddr: 0, size: 32 },
    ]);
  });
});

describe('gen --granule', () => {
  const opts = { events: 12000, seed: 1, devices: 1, fragmentation: 0.5, rateScale: 1 };

  it('the default 4K granule gives the shipped sample traces byte for byte', async () => {
    for (const name of ['nic', 'nvme']) {
      const a = path.join(dir, `${name}-default.arrows`);
      const b = path.join(dir, `${name}-4k.arrows`);
      await generate(findWorkload(name)!, a, opts);
      await generate(findWorkload(name)!, b, { ...opts, granule: 4096 });
      expect(fs.readFileSync(a).equals(fs.readFileSync(`traces/${name}.arrows`)), name).toBe(true);
      expect(fs.readFileSync(b).equals(fs.readFileSync(a)), name).toBe(true);
    }
  });

  for (const [name, granule, label] of [
    ['nic', 16384, '16K'],
    ['nic', K64, '64K'],
    ['nvme', 16384, '16K'],
    ['nvme', K64, '64K'],
    ['gpu', K64, '64K'],
    ['window', K64, '64K'],
    ['mixed', K64, '64K'],
  ] as const) {
    it(`${name} under a ${label} granule: every map and unmap in granules, the metadata says so, and smmuv3 with that granule replays it without an error or fault`, async () => {
      const file = path.join(dir, `${name}-${label}.arrows`);
      await generate(findWorkload(name)!, file, { ...opts, granule });
      const t = await openTrace([file]);
      // window's own shape follows the common options (its label, workloads/window.ts).
      const shape = name === 'window' ? ' window=4194304 buffer=67108864 transfer=64 pattern=random read' : '';
      expect(t.meta.workload).toBe(`${name} events=12000 seed=1 devices=1 fragmentation=0.5 rate=1 granule=${label}${shape}`);
      let maps = 0;
      for await (const b of t.batches())
        for (let i = 0; i < b.length; i++) {
          if (b.op[i] !== Op.Map && b.op[i] !== Op.Unmap) continue;
          maps++;
          expect(u64(b.iova, i) % granule).toBe(0);
          expect(u64(b.paddr, i) % granule).toBe(0);
          expect(u64(b.size, i) % granule).toBe(0);
        }
      await t.close();
      expect(maps).toBeGreaterThan(0);
      const s = await replayTrace([file], resolveConfig({ vendor: 'smmuv3', pageSizes: [label] }));
      expect(s.totals.map.errors).toBe(0);
      // mixed shares one domain between devices behind two SMMUs: smmuv3 refuses the second
      // attach (model §9) and that VF's DMAs fault, at 4K as at 64K.
      if (name === 'mixed') expect(s.totals.attach.errors).toBe(1);
      else expect(s.totals.dma.faults).toBe(0);
      expect(s.totals.unmap).toMatchObject({ errors: 0, short: 0 });
    });
  }

  it('refuses a granule that is not 4K, 16K or 64K, and a workload that maps in 4 KiB pages only, with one line and exit 2', () => {
    const out = path.join(dir, 'bad.arrows');
    const r = runCli(['gen', 'nic', '-o', out, '--granule', '8K']);
    expect(r.stderr).toBe('iommu-replay: Invalid option --granule: expected 4K, 16K or 64K, got 8K\n');
    expect(r.status).toBe(2);
    const v = runCli(['gen', 'vm', '-o', out, '--granule', '64K']);
    expect(v.stderr).toBe(
      'iommu-replay: Invalid option --granule 64K: the vm workload maps in 4 KiB pages only; --granule applies to nic, nvme, gpu, mixed, window\n',
    );
    expect(v.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});
