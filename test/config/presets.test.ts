// Issue 13, item 10: presets for real IOMMUs, each the page sizes its Linux
// driver advertises (docs/presets.md has the sources). Explicit fields win.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVendorModelled, resolveConfig } from '../../src/config/config.js';
import { PRESETS } from '../../src/config/presets.js';
import { G1, M2 } from '../helpers/events.js';
import { replayEvents } from '../helpers/replay.js';
import { runCli } from '../helpers/cli.js';

// Page sizes and the partial-unmap rule do not depend on the vendor a preset
// sets (vendors.test.ts tests that): resolved with "vtd" here, which every
// preset accepts while a vendor is not modelled yet.
const VTD = { vendor: 'vtd' };
const sizes = (preset: string, extra: object = {}) => resolveConfig({ preset, ...VTD, ...extra }).pageSizes;

describe('presets', () => {
  it('Intel VT-d, AMD-Vi v2 and Arm SMMU 4K: 4K|2M|1G', () => {
    for (const p of ['intel-vtd', 'amd-v2', 'arm-smmu-4k']) expect(sizes(p)).toEqual(['4K', '2M', '1G']);
  });

  it('Arm SMMU 16K and 64K granules: 16K|32M and 64K|512M', () => {
    expect(sizes('arm-smmu-16k')).toEqual(['16K', '32M']);
    expect(sizes('arm-smmu-64k')).toEqual(['64K', '512M']);
  });

  it('AMD-Vi v1: every power of two from 4K except 512G, up to what the table holds', () => {
    const four = sizes('amd-v1');
    expect(four[0]).toBe('4K');
    expect(four).not.toContain('512G');
    expect(four).toContain('256G');
    expect(four).toContain('1T');
    expect(four[four.length - 1]).toBe('128T'); // 4 levels: a top-level entry maps 2^47
    expect(four.length).toBe(47 - 12 + 1 - 1);
    const five = sizes('amd-v1', { pageTable: { levels: 5 } });
    expect(five[five.length - 1]).toBe('2P'); // GENMASK_ULL(51, 12)
    expect(five.length).toBe(51 - 12 + 1 - 1);
  });

  it('Arm presets reject a partial unmap of a block (io-pgtable-arm since v6.13); the others remove the whole leaf', () => {
    expect(resolveConfig({ preset: 'arm-smmu-64k', ...VTD }).partialUnmap).toBe('reject');
    expect(resolveConfig({ preset: 'amd-v1', ...VTD }).partialUnmap).toBe('whole-leaf');
  });

  it('explicit fields win over the preset', () => {
    const c = resolveConfig({ preset: 'arm-smmu-4k', pageSizes: ['4K'], partialUnmap: 'split', ...VTD });
    expect(c.pageSizes).toEqual(['4K']);
    expect(c.partialUnmap).toBe('split');
    expect(c.preset).toBe('arm-smmu-4k');
  });

  it('every preset replays: AMD v1 maps a 2 GiB-aligned 4 GiB buffer as one 4G leaf', () => {
    for (const p of PRESETS) expect(() => resolveConfig({ preset: p.name, ...(isVendorModelled(p.vendor) ? {} : VTD) })).not.toThrow();
    const s = replayEvents(
      [
        { op: 'attach', device: 0x300, domain: 1 },
        { op: 'map', domain: 1, iova: 4 * G1, paddr: 8 * G1, size: 4 * G1 },
        { op: 'dma_read', device: 0x300, iova: 4 * G1 + M2, size: 64 },
        { op: 'dma_read', device: 0x300, iova: 7 * G1, size: 64 },
      ],
      { preset: 'amd-v1', ...(isVendorModelled('amd') ? {} : VTD) },
    );
    expect(s.totals.map.pages).toMatchObject({ '4G': 1 });
    expect(s.totals.iotlb.hits).toBe(1);
  });

  it('--preset on the command line; an unknown one is one line', () => {
    const r = runCli(['replay', path.resolve('traces/vm.arrows'), '--preset', 'arm-smmu']);
    expect(r.stderr).toBe(
      'iommu-replay: Invalid config "--preset": preset: expected one of "intel-vtd", "amd-v1", "amd-v2", "arm-smmu-4k", "arm-smmu-16k", "arm-smmu-64k", got "arm-smmu"\n',
    );
    expect(r.status).toBe(2);
  });
});
