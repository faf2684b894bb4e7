// The vm-nested workload: a guest's stage 1 over a host stage 2 whose page
// size --s2-page-sizes chooses (docs/model.md §8).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { replayTrace } from '../../src/run/run.js';
import { openTrace } from '../../src/trace/merge.js';
import { findWorkload, generate } from '../../src/workloads/index.js';
import { runCli, tmpDir } from '../helpers/cli.js';

const dir = tmpDir();
const K4 = 4096;
const M2 = 2 ** 21;
const G1 = 2 ** 30;

async function trace(s2PageSizes: number[], devices = 1): Promise<string> {
  const f = path.join(dir, `vmn-${s2PageSizes.join('-')}-${devices}.arrows`);
  await generate(findWorkload('vm-nested')!, f, { events: 8000, seed: 5, devices, fragmentation: 0.5, rateScale: 1, s2PageSizes });
  return f;
}

describe('vm-nested', () => {
  it('declares one nested domain per device over one parent, and names the S2 page sizes', async () => {
    const t = await openTrace([await trace([K4, M2], 2)]);
    expect([...t.meta.domains]).toEqual([
      [1, 'nested'],
      [2, 'nested'],
    ]);
    expect([...t.meta.parents!]).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(t.meta.workload).toMatch(/^vm-nested .* s2-page-sizes=4K,2M$/);
    await t.close();
  });

  it.each([
    [[K4], { '4K': 8 * 262144 }],
    [[K4, M2], { '2M': 8 * 512 }],
    [[K4, M2, G1], { '1G': 8 }],
  ])('--s2-page-sizes %j: guest RAM is mapped once in stage 2 in pages of the largest size', async (sizes, s2Pages) => {
    const s = await replayTrace([await trace(sizes)], resolveConfig({}));
    const parent = s.byDomain.find((d) => d.type === 'paging')!;
    expect(parent.domain).toBe(2);
    expect(Object.fromEntries(Object.entries(parent.map.pages).filter(([, n]) => n > 0))).toEqual(s2Pages);
    expect(parent.map.bytes).toBe(8 * G1);
    expect(parent.unmap.ops).toBe(0);
    // The guest's streaming maps are stage 1, 4K mostly; every DMA translates.
    const guest = s.byDomain.find((d) => d.type === 'nested')!;
    expect(guest.parent).toBe(2);
    expect(guest.map.pages['4K']).toBeGreaterThan(guest.map.pages['2M'] ?? 0);
    expect(s.totals.dma.faults).toBe(0);
    expect(s.totals.nested.walks).toBe(s.totals.walks.count);
    expect(s.totals.unmap).toMatchObject({ errors: 0, short: 0 });
  });

  it('a larger stage 2 page makes each 2-D walk cheaper: 4K S1 over 4K S2 costs 24 accesses, over 2M 19, over 1G 14', async () => {
    const per = async (sizes: number[]) => {
      const s = await replayTrace([await trace(sizes)], resolveConfig({}));
      return s.totals.walks;
    };
    const [a, b, c] = [await per([K4]), await per([M2]), await per([G1])];
    expect(a.memoryAccesses / a.count).toBeGreaterThan(19);
    expect(b.memoryAccesses / b.count).toBeLessThanOrEqual(19);
    expect(c.memoryAccesses / c.count).toBeLessThanOrEqual(14);
    expect(c.memoryAccesses).toBeLessThan(b.memoryAccesses);
    expect(b.memoryAccesses).toBeLessThan(a.memoryAccesses);
  });

  it('gen rejects a bad --s2-page-sizes with one line and exit 2', () => {
    const out = path.join(dir, 'bad.arrows');
    const r = runCli(['gen', 'vm-nested', '-o', out, '--s2-page-sizes', '4K,3M']);
    expect(r.stderr).toBe('iommu-replay: Invalid option --s2-page-sizes: expected page sizes from 4K to 1G such as 4K+2M, got 4K,3M\n');
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});
