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
});
