// scripts/qemu-counts.mjs on the shipped recordings (traces/qemu/): the
// numbers of docs/qemu.md's table "Recordings under SMMUv3 and AMD-Vi: what
// QEMU logged", for each of the three IOMMUs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/cli.js';

const TRACES = path.resolve('traces/qemu');
const dir = tmpDir();

function counts(...files: string[]) {
  const r = spawnSync(process.execPath, ['scripts/qemu-counts.mjs', '--json', ...files], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, json: r.status === 0 ? JSON.parse(r.stdout) : null };
}
const recording = (name: string) => counts(path.join(TRACES, `${name}.qemu.log.gz`), path.join(TRACES, `${name}.guest.trace.gz`)).json;

describe('qemu-counts.mjs on the shipped recordings', () => {
  it('VT-d strict: the counts docs/qemu.md gives for the model comparison', () => {
    const c = recording('strict');
    expect(c).toMatchObject({ iommu: 'vtd', translations: 9748, iotlbHits: 4616, iotlbMisses: 5132, iotlbResets: 0 });
    expect(c.commands).toMatchObject({ iotlb_pages: 614, wait_sw: 616 });
    expect(c.guest).toMatchObject({ map: 5128, unmap: 614 });
  }, 60_000);

  it('SMMUv3 strict: one TLBI_NH_VA and one CMD_SYNC per unmap; MSIs are translations to the ITS doorbell page', () => {
    const c = recording('smmuv3-strict');
    expect(c).toMatchObject({
      iommu: 'smmuv3',
      translations: 10351,
      msiTranslations: 619,
      iotlbHits: 5220,
      iotlbMisses: 5131,
      iotlbCapacityResets: 0,
      rangePieces: 612,
    });
    expect(c.commands).toMatchObject({ TLBI_NH_VA: 612, CMD_SYNC: 619, TLBI_NH_ASID: 1 });
    expect(c.commandsFromFirstTranslation).toEqual({ TLBI_NH_VA: 612, CMD_SYNC: 612 });
    expect(c.guest).toMatchObject({ map: 4914, unmap: 612 });
  }, 60_000);

  it('SMMUv3 lazy: flushes are TLBI_NH_ASID + CMD_SYNC, no TLBI_NH_VA', () => {
    const c = recording('smmuv3-lazy');
    expect(c).toMatchObject({ translations: 10350, iotlbHits: 1912, iotlbMisses: 8438, rangePieces: 0 });
    expect(c.commandsFromFirstTranslation).toEqual({ TLBI_NH_ASID: 605, CMD_SYNC: 605 });
    expect(c.guest).toMatchObject({ map: 4928, unmap: 612 });
  }, 60_000);

  it('AMD-Vi strict and lazy: misses are translations less hits; as many INVALIDATE_IOMMU_PAGES as COMPLETION_WAIT after boot', () => {
    const s = recording('amd-strict');
    expect(s).toMatchObject({ iommu: 'amd', translations: 9748, iotlbHits: 1878, iotlbMisses: 7870, iotlbFills: 7870, iotlbResets: 3, iotlbCapacityResets: 0 });
    expect(s.commands).toMatchObject({
      INVALIDATE_IOMMU_PAGES: 1492,
      COMPLETION_WAIT: 1244,
      INVALIDATE_DEVTAB_ENTRY: 257,
      INVALIDATE_INTERRUPT_TABLE: 252,
      INVALIDATE_IOMMU_ALL: 1,
    });
    expect(s.commandsFromFirstTranslation).toEqual({ INVALIDATE_IOMMU_PAGES: 1232, COMPLETION_WAIT: 1232 });
    expect(s.guest).toMatchObject({ map: 4963, unmap: 614 });
    const l = recording('amd-lazy');
    expect(l).toMatchObject({ translations: 9748, iotlbHits: 1874, iotlbMisses: 7874 });
    expect(l.commandsFromFirstTranslation).toEqual({ INVALIDATE_IOMMU_PAGES: 782, COMPLETION_WAIT: 782 });
    expect(l.guest).toMatchObject({ map: 4986, unmap: 614 });
  }, 60_000);

  it('SMMUv3 lazy with a fast CPU: the flush queue batches unmaps', () => {
    const c = recording('smmuv3-lazy-fast');
    expect(c).toMatchObject({ translations: 10351, iotlbHits: 3675, iotlbMisses: 6676 });
    expect(c.commandsFromFirstTranslation).toEqual({ TLBI_NH_ASID: 281, CMD_SYNC: 281 });
    expect(c.guest).toMatchObject({ map: 4665, unmap: 612 });
  }, 60_000);

  it('SMMUv3 lazy sequential: QEMU empties its 256-entry IOTLB when a fill finds it full', () => {
    const c = recording('smmuv3-lazy-seq');
    expect(c).toMatchObject({ translations: 11799, iotlbHits: 2240, iotlbMisses: 9559, iotlbResets: 33, iotlbCapacityResets: 32 });
    expect(c.commandsFromFirstTranslation).toEqual({ TLBI_NH_ASID: 22, CMD_SYNC: 22 });
    expect(c.guest).toMatchObject({ map: 1303, unmap: 204 });
  }, 60_000);

  it('splits: QEMU logs a 3- or 5-page SMMUv3 range as two pieces; Linux splits AMD-Vi flushes itself', () => {
    const s = recording('smmuv3-split');
    expect(s).toMatchObject({ translations: 2751, iotlbHits: 1928, iotlbMisses: 823, rangePieces: 412 });
    expect(s.commandsFromFirstTranslation).toEqual({ TLBI_NH_VA: 212, CMD_SYNC: 212 });
    expect(s.guest).toMatchObject({ map: 774, unmap: 212 });
    const a = recording('amd-split');
    expect(a).toMatchObject({ translations: 2547, iotlbHits: 678, iotlbMisses: 1869 });
    expect(a.commandsFromFirstTranslation).toEqual({ INVALIDATE_IOMMU_PAGES: 832, COMPLETION_WAIT: 432 });
    expect(a.guest).toMatchObject({ map: 810, unmap: 214 });
  }, 60_000);

  it('a file that is not a QEMU IOMMU log is one line on stderr and exit status 2', () => {
    const f = path.join(dir, 'not-qemu.log');
    fs.writeFileSync(f, 'vtd_dmar_translate dev 00:03.00 iova 0x1000 -> gpa 0x2000 mask 0xfff\nhello world\n');
    const r = counts(f);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`Cannot count "${f}": line 2 is not a vtd_*, smmu*_* or amdvi_* trace line: hello world\n`);
  });
});
