// The optional map_more column (docs/trace-format.md): map-operation
// boundaries, written by import and read by the replay, where AMD-Vi with
// NpCache flushes once per operation (docs/model.md §9).
import fs from 'node:fs';
import path from 'node:path';
import * as A from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { importTrace } from '../../src/import/convert.js';
import { replayTrace } from '../../src/run/run.js';
import { openTrace } from '../../src/trace/merge.js';
import { writeTrace } from '../../src/trace/writer.js';
import { tmpDir, runCli } from '../helpers/cli.js';
import { K4, batchOf, type Ev } from '../helpers/events.js';

const dir = tmpDir();
const NP = resolveConfig({ vendor: 'amd', amd: { npCache: true } }, 'test');
// One scatter-gather map of [0, 0x4000) in three rows: one 16K flush as one operation, 4K + 4K + 8K as three.
const SG: Ev[] = [
  { op: 'attach', device: 0x300, domain: 1 },
  { op: 'map', domain: 1, iova: 0, paddr: 0x10000, size: K4, mapMore: 1 },
  { op: 'map', domain: 1, iova: K4, paddr: 0x30000, size: K4, mapMore: 1 },
  { op: 'map', domain: 1, iova: 2 * K4, paddr: 0x50000, size: 2 * K4 },
];

describe('map_more: map operations in the trace', () => {
  it('written with the column, a scatter-gather map is one operation; without it (older traces) each map is one', async () => {
    const withOps = path.join(dir, 'ops.arrows');
    const without = path.join(dir, 'plain.arrows');
    await writeTrace(withOps, {}, [batchOf(SG)], true);
    await writeTrace(without, {}, [batchOf(SG)]);
    expect((await replayTrace([withOps], NP)).totals.invalidation.commands).toMatchObject({ page: 1, wait: 1 });
    expect((await replayTrace([without], NP)).totals.invalidation.commands).toMatchObject({ page: 3, wait: 3 });
    // Merged with a file that has no such column, the operation survives.
    const other = path.join(dir, 'dma.arrows');
    await writeTrace(other, {}, [batchOf([{ ts: 10, op: 'dma_read', device: 0x300, iova: 0, size: 64 }])]);
    expect((await replayTrace([withOps, other], NP)).totals.invalidation.commands).toMatchObject({ page: 1, wait: 1 });
  });

  it('a map_more column that is not an integer is a bad trace, in one line', async () => {
    const f = path.join(dir, 'bad.arrow');
    const t = A.tableFromArrays({
      ts: BigUint64Array.from([0n]),
      op: ['map'],
      device: Uint32Array.from([0]),
      pasid: Uint32Array.from([0]),
      domain: Uint32Array.from([1]),
      iova: BigUint64Array.from([0n]),
      paddr: BigUint64Array.from([0n]),
      size: BigUint64Array.from([4096n]),
      map_more: ['yes'],
    });
    fs.writeFileSync(f, A.tableToIPC(t, 'file'));
    const r = runCli(['inspect', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/column "map_more" is .*, expected uint32 \(or another integer type\)\n$/);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('import: a run of iommu:map events on one CPU, each where the last ended, is one operation (__iommu_map_sg())', async () => {
    const g = path.join(dir, 'sg.trace');
    fs.writeFileSync(
      g,
      `# tracer: nop
    kworker/0:1H-37      [000] .....     8.087804: map: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffc1000 paddr=0x000000000b1e8000 size=4096
    kworker/0:1H-37      [000] .....     8.087827: map: IOMMU: iova=0x00000000fffc1000 - 0x00000000fffc2000 paddr=0x000000000b1f4000 size=4096
    kworker/0:1H-37      [000] .....     8.087829: map: IOMMU: iova=0x00000000fffc2000 - 0x00000000fffc4000 paddr=0x000000000b1e2000 size=8192
    kworker/0:1H-37      [000] .....     8.087900: map: IOMMU: iova=0x00000000fffbf000 - 0x00000000fffc0000 paddr=0x000000000b1ee000 size=4096
    kworker/0:1H-37      [000] .....     8.087950: map: IOMMU: iova=0x00000000fffc4000 - 0x00000000fffc5000 paddr=0x000000000b1ef000 size=4096
          <idle>-0       [000] d.h1.     8.089949: unmap: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffc4000 size=16384 unmapped_size=16384
`,
    );
    const out = path.join(dir, 'sg.arrows');
    // The 4th map lands below (another call); the 5th starts where the 3rd ended but after another map: its own call.
    const s = await importTrace([g], out, { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: true, seed: 1 });
    expect(s.mapOperations).toBe(3);
    const t = await openTrace([out]);
    const more: number[] = [];
    for await (const b of t.batches()) for (let i = 0; i < b.length; i++) if (b.op[i] === 2) more.push(b.mapMore![i]);
    await t.close();
    expect(more).toEqual([1, 1, 0, 0, 0]);
  });

  it("import: an operation is one domain's; a run whose next map is attributed to another domain ends there", async () => {
    const g = path.join(dir, 'two.trace');
    // The second map's dma_map_page names a device; the first map's range is no device's: the default domain.
    fs.writeFileSync(
      g,
      `# tracer: nop
              dd-90      [001] .....     5.000100: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x0000000000009000 size=4096
              dd-90      [001] .....     5.000101: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x000000000000b000 size=4096
              dd-90      [001] .....     5.000102: dma_map_page: 0000:03:00.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096 phys_addr=b000 attrs=
`,
    );
    const out = path.join(dir, 'two.arrows');
    const s = await importTrace([g], out, { format: 'auto', synthesizeDma: false, coherentRateHz: 0, strict: true, seed: 1 });
    expect(s.attribution).toMatchObject({ sameCpuNeighbour: 1, defaultDomain: 1 });
    expect(s.mapOperations).toBe(2);
  });
});
