// Defects of `import` that gave wrong numbers (session 11's review), each
// reproduced by a fixture in test/import/fixtures (README.md there).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTrace, type ImportOptions } from '../../src/import/convert.js';
import { u64 } from '../../src/trace/batch.js';
import { openTrace } from '../../src/trace/merge.js';
import { OP_NAMES } from '../../src/trace/schema.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const fixture = (name: string) => path.join('test/import/fixtures', name);
const SYNTH: ImportOptions = { format: 'auto', synthesizeDma: true, coherentRateHz: 1000, strict: true, seed: 1 };

interface Row {
  ts: number;
  op: string;
  domain: number;
  iova: number;
}

async function rowsOf(file: string): Promise<Row[]> {
  const t = await openTrace([file]);
  const rows: Row[] = [];
  for await (const b of t.batches())
    for (let i = 0; i < b.length; i++) rows.push({ ts: u64(b.ts, i), op: OP_NAMES[b.op[i]], domain: b.domain[i], iova: u64(b.iova, i) });
  await t.close();
  return rows;
}

/** The replay's totals of a trace, by the CLI as a user runs it. */
function totalsOf(trace: string) {
  const json = `${trace}.json`;
  const r = runCli(['replay', trace, '--json', json]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(fs.readFileSync(json, 'utf8')).totals;
}

describe('import: defects that gave wrong numbers', () => {
  it('an iommu_map_sg() of more than 8 pieces is all in its device domain (its first pieces went to the default domain)', async () => {
    const out = path.join(dir, 'sg.arrows');
    const s = await importTrace([fixture('sg-12-entries.trace')], out, SYNTH);
    // 10 iommu:map events (12 entries, two pairs merged) and one iommu:unmap, twice.
    expect(s.attribution).toEqual({ sameCpuNeighbour: 22, earlierMapping: 0, vendorDevField: 0, defaultDomain: 0 });
    expect(s.mapOperations).toBe(2);
    expect(s.devices).toEqual([{ name: '0000:01:00.0', requesterId: 0x100, domain: 2 }]);
    const maps = (await rowsOf(out)).filter((r) => r.op === 'map');
    expect(maps.length).toBe(20);
    expect(new Set(maps.map((r) => r.domain))).toEqual(new Set([2]));
    const t = totalsOf(out);
    expect(t.map).toMatchObject({ ops: 20, errors: 0 });
    expect(t.unmap).toMatchObject({ ops: 2, short: 0, bytes: 2 * 49152 });
    expect(t.dma).toMatchObject({ events: 2, faults: 0 });
  });

  it('a synthesized streaming access comes before its iommu:unmap, which the kernel traces before dma_unmap (it came at or after the unmap)', async () => {
    const out = path.join(dir, 'soon.arrows');
    const s = await importTrace([fixture('streaming-unmap-soon.trace')], out, SYNTH);
    expect(s.synthesized).toEqual({ streaming: 5, coherent: 0 });
    const rows = await rowsOf(out);
    const base = 100e9;
    // Half-way to the unmap (500 ns; 200 ns when the invalidation wait separates unmap and dma_unmap),
    // at the dma_map's time when the unmap is 1 ns later, and at the same time when there is no time between.
    expect(rows.filter((r) => r.op.startsWith('dma_')).map((r) => r.ts - base)).toEqual([1500, 10300, 20000, 20000, 31000]);
    // Each access's row comes before its mapping's unmap row (for equal timestamps the row order decides).
    for (const [k, r] of rows.entries()) if (r.op.startsWith('dma_')) expect(rows.findIndex((u) => u.op === 'unmap' && u.iova === r.iova)).toBeGreaterThan(k);
    expect(totalsOf(out).dma).toMatchObject({ events: 5, faults: 0 });
  });

  it("a dma_map_sg's access comes before its own list's iommu:unmap, not the device's next one (it came after, with two lists in flight)", async () => {
    const out = path.join(dir, 'inflight.arrows');
    await importTrace([fixture('sg-lists-in-flight.trace')], out, SYNTH);
    const rows = await rowsOf(out);
    // List A (0xfff00000) is unmapped 300 ns after its dma_map_sg; list B's unmap comes 1.5 us later.
    expect(rows.filter((r) => r.op.startsWith('dma_')).map((r) => [r.iova, r.ts - 100e9])).toEqual([
      [0xfffe0000, 1100],
      [0xfff00000, 10250],
    ]);
    expect(totalsOf(out).dma).toMatchObject({ events: 2, faults: 0 });
  });

  it('coherent accesses past the cap are spread over the whole life of the allocation (they all came in its first 10 s)', async () => {
    const out = path.join(dir, 'coherent.arrows');
    const s = await importTrace([fixture('coherent-long-and-large.trace')], out, SYNTH);
    // The 4 GiB allocation lives 0.2 s: 199 accesses at 1 kHz; the other lives 30 s: 10,000 (the cap) instead of 29,999.
    expect(s.synthesized).toEqual({ streaming: 0, coherent: 199 + 10_000 });
    expect(s.synthesizedSpread).toBe(1);
    const small = (await rowsOf(out)).filter((r) => r.op.startsWith('dma_') && r.iova < 0x100000000);
    expect(small.length).toBe(10_000);
    const allocNs = 10.000001e9;
    const freeNs = 40e9;
    const period = Math.floor((freeNs - allocNs) / 10_001);
    expect(small.map((r) => r.ts)).toEqual(small.map((_, k) => allocNs + (k + 1) * period));
    expect(small[small.length - 1].ts).toBeGreaterThan(freeNs - 0.01e9);
    // The summary says so.
    const r = runCli(['import', fixture('coherent-long-and-large.trace'), '-o', path.join(dir, 'coherent-cli.arrows'), '--synthesize-dma']);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n')).toContain(
      'synthesized DMA: 0 streaming, 10199 coherent accesses (1 coherent allocation outlived 10000 accesses at --coherent-rate: their 10000 are spread over the whole life, at a lower rate)',
    );
  });

  it('accesses to a coherent allocation over 2 GiB stay inside it (offsets past 2^31 wrapped negative)', async () => {
    const out = path.join(dir, 'coherent-large.arrows');
    await importTrace([fixture('coherent-long-and-large.trace')], out, SYNTH);
    const large = (await rowsOf(out)).filter((r) => r.op.startsWith('dma_') && r.iova >= 0x100000000);
    expect(large.length).toBe(199);
    for (const r of large) {
      expect(r.iova % 64).toBe(0);
      expect(r.iova).toBeLessThanOrEqual(0x200000000 - 64);
    }
    // About half of them land in the upper 2 GiB: the offsets that wrapped.
    expect(large.filter((r) => r.iova - 0x100000000 >= 2 ** 31).length).toBeGreaterThan(50);
    expect(totalsOf(out).dma).toMatchObject({ events: 10_199, faults: 0 });
  });
});
